import EdgeSystem
import Foundation
import XCTest

/// The start-up pages go back to the kernel: the running binary's read-only and executable
/// mappings are among those found, and after the advice fewer of its pages are resident.
final class StartupPagesTests: XCTestCase {
    func testTheBinarysReadOnlyMappingsAreFoundAndTheirResidentPagesDrop() throws {
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let own = StartupPages.mappings(of: binary).filter { !$0.writable }
        XCTAssertFalse(own.isEmpty, "no read-only mapping of \(binary) in /proc/self/maps")
        XCTAssertTrue(StartupPages.mappings(of: "/nonexistent/binary").isEmpty)
        let all = StartupPages.mappings()
        XCTAssertGreaterThan(all.count, own.count, "the shared libraries' mappings are found too")
        XCTAssertTrue(all.allSatisfy { $0.path.hasPrefix("/") })
        // Every page resident first, whatever an earlier test handed back already.
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var sum = 0
        for mapping in own {
            let bytes = try XCTUnwrap(UnsafeRawPointer(bitPattern: mapping.start))
            for offset in stride(from: 0, to: mapping.length, by: pageSize) { sum &+= Int(bytes.load(fromByteOffset: offset, as: UInt8.self)) }
        }
        XCTAssertNotEqual(sum, -1)
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

    /// A writable private mapping of a file: its pages only read go back, the page written (now a
    /// private copy, the process's state) stays resident with what was written.
    func testAWritableMappingLosesItsCleanPagesAndKeepsItsCopiedOne() throws {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = 16
        // Beside the test binary, on the build's disk: a tmpfs page (a temporary folder's, on some
        // machines) is memory and goes nowhere without swap.
        let binary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let path = URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("startup-pages-\(getpid())").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer {
            close(descriptor)
            unlink(path)
        }
        let contents = [UInt8](repeating: 0x2A, count: pages * pageSize)
        XCTAssertEqual(contents.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }, contents.count)
        // Clean in the page cache, as a binary's pages are: a dirty page would not be reclaimed.
        XCTAssertEqual(fsync(descriptor), 0)
        let base = try XCTUnwrap(mmap(nil, pages * pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE, descriptor, 0))
        XCTAssertNotEqual(base, MAP_FAILED)
        defer { munmap(base, pages * pageSize) }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var sum = 0
        for page in 0..<pages { sum += Int(bytes[page * pageSize]) }
        XCTAssertEqual(sum, 0x2A * pages)
        bytes[5 * pageSize] = 0x07
        let start = UInt(bitPattern: base)

        let mapping = try XCTUnwrap(StartupPages.mappings(of: path).first)
        XCTAssertTrue(mapping.writable)
        XCTAssertEqual(mapping.start, start)
        let entries = try XCTUnwrap(StartupPages.pagemapEntries(start: start, pages: pages, pageSize: pageSize))
        let runs = StartupPages.fileRuns(start: start, entries: entries, pageSize: pageSize)
        XCTAssertEqual(runs.map(\.start), [start, start + UInt(6 * pageSize)])
        XCTAssertEqual(runs.map(\.length), [5 * pageSize, 10 * pageSize])

        guard StartupPages.release() != nil else { throw XCTSkip("this kernel has no MADV_PAGEOUT (before Linux 5.4)") }
        let after = try XCTUnwrap(StartupPages.pagemapEntries(start: start, pages: pages, pageSize: pageSize))
        let resident = after.indices.filter { after[$0] & (1 << 63) != 0 }
        XCTAssertEqual(resident, [5], "only the page written stays resident")
        XCTAssertEqual(bytes[5 * pageSize], 0x07)
        XCTAssertEqual(bytes[4 * pageSize], 0x2A, "a clean page faults back in from its file")
    }

    /// Runs split at anonymous and swapped pages; absent pages and file pages join a run.
    func testFileRunsSplitAtAnonymousAndSwappedPages() {
        let present: UInt64 = 1 << 63, swapped: UInt64 = 1 << 62, file: UInt64 = 1 << 61
        let entries: [UInt64] = [present | file, present | file, present, 0, swapped, present | file, 0]
        let runs = StartupPages.fileRuns(start: 0x10000, entries: entries, pageSize: 0x1000)
        XCTAssertEqual(runs.map(\.start), [0x10000, 0x13000, 0x15000])
        XCTAssertEqual(runs.map(\.length), [0x2000, 0x1000, 0x2000])
        XCTAssertTrue(StartupPages.fileRuns(start: 0, entries: [present, swapped], pageSize: 0x1000).isEmpty)
        XCTAssertEqual(StartupPages.fileRuns(start: 0, entries: [0, 0], pageSize: 0x1000).map(\.length), [0x2000])
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
