import Foundation
import XCTest

/// The shipped code imports FoundationEssentials, never Foundation: one Foundation-only type
/// (`NSString`, `Thread`, `Process`, `FileHandle`, `String(format:)`) links all of Foundation and
/// its 34 MB ICU table into the static binary (docs/benchmarks.md). With only FoundationEssentials
/// imported the compiler refuses such a type, so this check of the imports keeps the binary small;
/// the package build checks the binary itself (packaging/deb/build-deb.sh).
final class FoundationFreeSourcesTests: XCTestCase {
    private static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources")

    func testNoSourceFileImportsFoundation() throws {
        var offenders: [String] = []
        var scanned = 0
        let files = FileManager.default.enumerator(atPath: Self.sources.path)?.compactMap { $0 as? String } ?? []
        for file in files where file.hasSuffix(".swift") {
            scanned += 1
            let text = try String(contentsOf: Self.sources.appendingPathComponent(file), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where Self.importsFoundation(line) {
                offenders.append("Sources/\(file):\(number + 1)")
            }
        }
        XCTAssertGreaterThan(scanned, 200, "the scan found too few sources; is the path right?")
        XCTAssertEqual(offenders, [], "import FoundationEssentials instead (and EdgeSystem for threads, paths, processes, standard streams)")
    }

    func testTheCheckSeesEveryFormOfTheImport() {
        for line in ["import Foundation", "package import Foundation", "@preconcurrency import Foundation", "  import Foundation // why",
                     "import struct Foundation.Date", "public import Foundation"] {
            XCTAssertTrue(Self.importsFoundation(Substring(line)), line)
        }
        for line in ["import FoundationEssentials", "// import Foundation", "package import FoundationEssentials", "import FoundationX"] {
            XCTAssertFalse(Self.importsFoundation(Substring(line)), line)
        }
    }

    static func importsFoundation(_ line: Substring) -> Bool {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let index = words.firstIndex(of: "import"), words[..<index].allSatisfy({ $0.hasPrefix("@") || ["public", "package", "internal", "private", "fileprivate"].contains($0) }),
              index + 1 < words.count else { return false }
        var module = words[index + 1]
        if ["struct", "class", "enum", "protocol", "func", "var", "let", "typealias"].contains(module), index + 2 < words.count {
            module = words[index + 2]
        }
        return module == "Foundation" || module.hasPrefix("Foundation.")
    }
}
