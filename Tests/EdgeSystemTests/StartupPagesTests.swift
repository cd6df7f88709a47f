import EdgeSystem
import Foundation
import XCTest

/// The start-up pages go back to the kernel: the running binary's read-only and executable
/// mappings are among those found, and after the advice fewer of its pages are resident.
final class StartupPagesTests: XCTestCase {
    func testTheBinarysReadOnlyMappingsAreFoundAndTheirResidentPagesDrop() throws {
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let own = StartupPages.mappings(of: binary)
        XCTAssertFalse(own.isEmpty, "no read-only mapping of \(binary) in /proc/self/maps")
        XCTAssertTrue(StartupPages.mappings(of: "/nonexistent/binary").isEmpty)
        let all = StartupPages.mappings()
        XCTAssertGreaterThan(all.count, own.count, "the shared libraries' mappings are found too")
        XCTAssertTrue(all.allSatisfy { $0.path.hasPrefix("/") })
        let before = try Self.residentKiB(of: own.map(\.start))
        XCTAssertGreaterThan(before, 0)
        guard let advised = StartupPages.release() else {
            throw XCTSkip("this kernel has no MADV_PAGEOUT (before Linux 5.4)")
        }
        XCTAssertGreaterThanOrEqual(advised, own.reduce(0) { $0 + $1.length })
        let after = try Self.residentKiB(of: own.map(\.start))
        // The test's own code faults a few pages back at once; most stay out.
        XCTAssertLessThan(after, before / 2, "resident KiB of the binary's read-only mappings: \(before) before, \(after) after")
    }

    /// `Rss` of the mappings starting at `starts`, from /proc/self/smaps.
    private static func residentKiB(of starts: [UInt]) throws -> Int {
        let starts = Set(starts)
        // Read to its end: the file's size in `stat` is 0, and it is long in a sanitized build.
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
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
