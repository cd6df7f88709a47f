import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
package import Logging

/// Log lines for the journal: a syslog priority prefix (`<6>` for info), which journald turns into
/// the entry's PRIORITY, and no timestamp, since the journal stamps every line itself.
package struct JournalLogHandler: LogHandler {
    package var logLevel: Logger.Level = .info
    package var metadata = Logger.Metadata()
    package var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void

    /// Writes to standard error (the unit's stream to journald).
    package init(metadataProvider: Logger.MetadataProvider? = nil) {
        self.init(metadataProvider: metadataProvider) { line in
            var text = line
            text.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
        }
    }

    init(metadataProvider: Logger.MetadataProvider? = nil, write: @escaping @Sendable (String) -> Void) {
        self.metadataProvider = metadataProvider
        self.write = write
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        write(Self.line(level: event.level, message: "\(event.message)", metadata: effectiveMetadata(event)))
    }

    private func effectiveMetadata(_ event: LogEvent) -> Logger.Metadata {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        if let error = event.error { merged["error.message"] = "\(error)" }
        return merged
    }

    /// `<PRIORITY>message key=value …`, metadata sorted by key; newlines inside are escaped, so
    /// that one event stays one journal entry.
    static func line(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line = "<\(priority(level))>" + escaped(message)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=" + escaped("\(value)")
        }
        return line + "\n"
    }

    /// syslog(3) priorities: swift-log's `trace` has none of its own and shares `debug`'s.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    private static func escaped(_ text: String) -> String {
        text.contains("\n") ? text.replacing("\n", with: "\\n") : text
    }

    /// True when standard error is the journal's stream: `JOURNAL_STREAM` (`DEVICE:INODE`, set by
    /// systemd) names the very file descriptor 2 is, not one a parent passed down.
    package static func standardErrorIsJournal(environment: [String: String]) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        var status = stat()
        guard fstat(2, &status) == 0 else { return false }
        return stream == "\(status.st_dev):\(status.st_ino)"
    }
}
