package import Foundation

/// Locates the third-party conformance suites, read in place: `$FHIR_EDGE_CONFORMANCE`, else
/// `../shared/conformance` beside the checkout. Tests call `Conformance.directory(_:)` and skip
/// with a printed SKIP line when the suites are absent, or fail under `CI=true`.
package enum Conformance {
    package static var root: URL? {
        if let path = ProcessInfo.processInfo.environment["FHIR_EDGE_CONFORMANCE"], !path.isEmpty {
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        let candidate = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance", isDirectory: true)
        return FileManager.default.fileExists(atPath: candidate.path) ? candidate : nil
    }

    /// The folder of one suite (`jmespath`, `jsonpath`, `iomt`, `ble`), or nil after printing a
    /// SKIP line. Under `CI=true` a missing suite is an error instead: a CI run that silently
    /// skipped the conformance suites would pass without testing what they test.
    package static func directory(_ suite: String) throws(Missing) -> URL? {
        guard let root, FileManager.default.fileExists(atPath: root.appendingPathComponent(suite).path) else {
            let place = root?.appendingPathComponent(suite).path ?? "../shared/conformance/\(suite)"
            if ProcessInfo.processInfo.environment["CI"] == "true" { throw Missing(suite: suite, place: place) }
            print("SKIP: conformance suite '\(suite)' not found (set FHIR_EDGE_CONFORMANCE or place ../shared/conformance beside the checkout)")
            return nil
        }
        return root.appendingPathComponent(suite, isDirectory: true)
    }

    /// A suite that CI needs and does not find.
    package struct Missing: Error, CustomStringConvertible {
        package var suite: String
        package var place: String
        package var description: String {
            "conformance suite '\(suite)' not found at \(place) under CI=true; set FHIR_EDGE_CONFORMANCE to the conformance folder"
        }
    }

    /// The repository root (the folder holding Package.swift).
    package static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
