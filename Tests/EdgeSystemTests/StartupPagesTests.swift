import EdgeSystem
import Foundation
import XCTest

/// The start-up pages of the running binary go back to the kernel: its read-only and executable
/// mappings are found, and after the advice fewer of their pages are resident.
final class StartupPagesTests: XCTestCase {
    func testTheBinarysReadOnlyMappingsAreFoundAndTheirResidentPagesDrop() throws {
        let mappings = StartupPages.mappings()
        XCTAssertFalse(mappings.isEmpty, "no read-only mapping of the running binary in /proc/self/maps")
        XCTAssertTrue(StartupPages.mappings(of: "/nonexistent/binary").isEmpty)
        let before = try Self.residentKiB(of: mappings)
        XCTAssertGreaterThan(before, 0)
        guard let advised = StartupPages.release() else {
            throw XCTSkip("this kernel has no MADV_PAGEOUT (before Linux 5.4)")
        }
        XCTAssertEqual(advised, mappings.reduce(0) { $0 + $1.length })
        let after = try Self.residentKiB(of: mappings)
        // The test's own code faults a few pages back at once; most stay out.
        XCTAssertLessThan(after, before / 2, "resident KiB of the binary's read-only mappings: \(before) before, \(after) after")
    }

    /// `Rss` of the given mappings, from /proc/self/smaps.
    private static func residentKiB(of mappings: [(start: UInt, length: Int)]) throws -> Int {
        let starts = Set(mappings.map(\.start))
        let smaps = try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8)
        var total = 0
        var counting = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), let start = UInt(line[..<dash], radix: 16), line.contains(" ") {
                counting = starts.contains(start)
            } else if counting, line.hasPrefix("Rss:") {
                total += Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
            }
        }
        return total
    }
}
