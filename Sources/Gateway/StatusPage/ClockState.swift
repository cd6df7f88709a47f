import EdgeCore
import FoundationEssentials

/// Whether the system clock is synchronised, as systemd-timesyncd marks it. Receive times, `issued` and the journal
/// all come from this clock, so the status page and `doctor` show it.
package struct ClockState: Sendable, Equatable {
    package enum Sync: String, Sendable {
        case synchronised
        case unsynchronised
        case unknown
    }

    package var sync: Sync
    /// The kernel's estimate of the error, in milliseconds, when it has one.
    package var estimatedErrorMilliseconds: Double?
    /// The kernel's maximum error, in milliseconds.
    package var maximumErrorMilliseconds: Double?
    /// What told: `adjtimex`, `timesyncd`.
    package var source: String

    package init(sync: Sync, estimatedErrorMilliseconds: Double? = nil, maximumErrorMilliseconds: Double? = nil, source: String) {
        self.sync = sync
        self.estimatedErrorMilliseconds = estimatedErrorMilliseconds
        self.maximumErrorMilliseconds = maximumErrorMilliseconds
        self.source = source
    }

    /// One line for people: `synchronised (adjtimex, estimated error 0.4 ms)`.
    package var summary: String {
        var text = sync.rawValue + " (" + source
        if let estimatedErrorMilliseconds { text += ", estimated error \(Self.format(estimatedErrorMilliseconds)) ms" }
        if sync == .unsynchronised, let maximumErrorMilliseconds { text += ", maximum error \(Self.format(maximumErrorMilliseconds)) ms" }
        return text + ")"
    }

    static func format(_ value: Double) -> String {
        DecimalText.oneDecimal(value)
    }

    /// systemd-timesyncd's view: its flag file exists once it synchronised the clock; its
    /// state folder without the flag means it runs and has not yet.
    package static func probe(
        timesyncFlag: String = "/run/systemd/timesync/synchronized", timesyncDirectory: String = "/run/systemd/timesync"
    ) -> ClockState {
        if FileManager.default.fileExists(atPath: timesyncFlag) { return ClockState(sync: .synchronised, source: "timesyncd") }
        if FileManager.default.fileExists(atPath: timesyncDirectory) { return ClockState(sync: .unsynchronised, source: "timesyncd") }
        return ClockState(sync: .unknown, source: "no timesyncd state")
    }
}
