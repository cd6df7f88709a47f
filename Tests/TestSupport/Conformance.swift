public import Foundation

/// Locates the third-party conformance suites, read in place: `$FHIR_EDGE_CONFORMANCE`, else
/// `../shared/conformance` beside the checkout. Tests call `Conformance.directory(_:)` and skip
/// with a printed SKIP line when the suites are absent.
public enum Conformance {
    public static var root: URL? {
        if let path = ProcessInfo.processInfo.environment["FHIR_EDGE_CONFORMANCE"], !path.isEmpty {
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        let candidate = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance", isDirectory: true)
        return FileManager.default.fileExists(atPath: candidate.path) ? candidate : nil
    }

    /// The folder of one suite (`jmespath`, `jsonpath`, `iomt`, `ble`), or nil after printing a SKIP line.
    public static func directory(_ suite: String, file: StaticString = #filePath, line: UInt = #line) -> URL? {
        guard let root, FileManager.default.fileExists(atPath: root.appendingPathComponent(suite).path) else {
            print("SKIP: conformance suite '\(suite)' not found (set FHIR_EDGE_CONFORMANCE or place ../shared/conformance beside the checkout)")
            return nil
        }
        return root.appendingPathComponent(suite, isDirectory: true)
    }

    /// The repository root (the folder holding Package.swift).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
