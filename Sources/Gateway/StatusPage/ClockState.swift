import Foundation

/// Whether the system clock is synchronised, as systemd-timesyncd marks it. Receive times, `issued` and the journal
/// all come from this clock, so the status page and `doctor` show it.
public struct ClockState: Sendable, Equatable {
    public enum Sync: String, Sendable {
        case synchronised
        case unsynchronised
        case unknown
    }

    public var sync: Sync
    /// The kernel's estimate of the error, in milliseconds, when it has one.
    public var estimatedErrorMilliseconds: Double?
    /// The kernel's maximum error, in milliseconds.
    public var maximumErrorMilliseconds: Double?
    /// What told: `adjtimex`, `timesyncd`.
    public var source: String

    public init(sync: Sync, estimatedErrorMilliseconds: Double? = nil, maximumErrorMilliseconds: Double? = nil, source: String) {
        self.sync = sync
        self.estimatedErrorMilliseconds = estimatedErrorMilliseconds
        self.maximumErrorMilliseconds = maximumErrorMilliseconds
        self.source = source
    }

    /// One line for people: `synchronised (adjtimex, estimated error 0.4 ms)`.
    public var summary: String {
        var text = sync.rawValue + " (" + source
        if let estimatedErrorMilliseconds { text += ", estimated error \(Self.format(estimatedErrorMilliseconds)) ms" }
        if sync == .unsynchronised, let maximumErrorMilliseconds { text += ", maximum error \(Self.format(maximumErrorMilliseconds)) ms" }
        return text + ")"
    }

    static func format(_ value: Double) -> String {
        String(format: "%.1f", value)
    }

    /// systemd-timesyncd's view: its flag file exists once it synchronised the clock; its
    /// state folder without the flag means it runs and has not yet.
    public static func probe(
        timesyncFlag: String = "/run/systemd/timesync/synchronized", timesyncDirectory: String = "/run/systemd/timesync"
    ) -> ClockState {
        if FileManager.default.fileExists(atPath: timesyncFlag) { return ClockState(sync: .synchronised, source: "timesyncd") }
        if FileManager.default.fileExists(atPath: timesyncDirectory) { return ClockState(sync: .unsynchronised, source: "timesyncd") }
        return ClockState(sync: .unknown, source: "no timesyncd state")
    }
}
