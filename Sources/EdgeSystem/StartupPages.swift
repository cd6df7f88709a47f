import EdgeCore
import Glibc

/// The executable's own code and read-only data, handed back to the kernel once start-up is over.
///
/// Start-up touches code and metadata spread over the whole binary (the Swift runtime's type and
/// conformance lookups, each service's set-up), and the kernel maps up to 64 KB around every page
/// touched: when the gateway is ready, two thirds of its text (15 of 24 MB) is resident, though
/// the idle daemon goes on using about a sixth of it. These pages are clean copies of the file;
/// `MADV_PAGEOUT` (Linux 5.4) drops them, and the ones still in use fault back in. Writable
/// mappings are left alone: they hold the process's own state.
package enum StartupPages {
    /// The read-only and executable mappings of `executable` (the running binary by default),
    /// from `/proc/self/maps`.
    package static func mappings(of executable: String? = nil) -> [(start: UInt, length: Int)] {
        guard let path = executable ?? ownExecutable(), let maps = readWhole("/proc/self/maps") else { return [] }
        var ranges: [(start: UInt, length: Int)] = []
        for line in maps.split(separator: "\n") {
            // start-end perms offset dev inode path
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[5].trimmingWhitespace == path, fields[1] == "r-xp" || fields[1] == "r--p" else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { continue }
            ranges.append((start, Int(end - start)))
        }
        return ranges
    }

    /// Advises the kernel to reclaim the mappings of `mappings(of:)`; returns the bytes advised,
    /// or nil when the kernel refused (before Linux 5.4: `EINVAL`) or nothing was found.
    @discardableResult
    package static func release(executable: String? = nil) -> Int? {
        var advised = 0
        for range in mappings(of: executable) {
            guard let address = UnsafeMutableRawPointer(bitPattern: range.start),
                madvise(address, range.length, MADV_PAGEOUT) == 0
            else { return nil }
            advised += range.length
        }
        return advised > 0 ? advised : nil
    }

    private static func ownExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A `/proc` file, read to its end (its size in `stat` is 0).
    private static func readWhole(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
