import EdgeCore
import Glibc

/// The clean file pages start-up touched (the binary's code and read-only data, and the shared
/// libraries'), handed back to the kernel once start-up is over.
///
/// Start-up touches code and metadata spread over the whole binary (the Swift runtime's type and
/// conformance lookups, each service's set-up) and over every library the loader relocates, and
/// the kernel maps up to 64 KB around each page touched: when the gateway is ready, two thirds of
/// its text (15 of 24 MB) is resident, though the idle daemon goes on using about a sixth of it.
/// These pages are clean copies of their files; `MADV_PAGEOUT` (Linux 5.4) drops them, and those
/// still in use fault back in. Writable mappings (the process's own state, the store's shared
/// memory index) are left alone, and the kernel keeps pages other processes map too.
package enum StartupPages {
    /// The read-only and executable mappings of files, from `/proc/self/maps`; only those of
    /// `file` when given.
    package static func mappings(of file: String? = nil) -> [(start: UInt, length: Int, path: String)] {
        // Read to its end: its size in `stat` is 0.
        let descriptor = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return [] }
        let (bytes, error) = FileDescriptor.readAll(from: descriptor)
        close(descriptor)
        guard error == nil else { return [] }
        let maps = String(decoding: bytes, as: UTF8.self)
        var ranges: [(start: UInt, length: Int, path: String)] = []
        for line in maps.split(separator: "\n") {
            // start-end perms offset dev inode path
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[1] == "r-xp" || fields[1] == "r--p" else { continue }
            let path = fields[5].trimmingWhitespace
            guard path.hasPrefix("/"), !path.hasSuffix(" (deleted)"), file == nil || path == file else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { continue }
            ranges.append((start, Int(end - start), path))
        }
        return ranges
    }

    /// Advises the kernel to reclaim every mapping of `mappings()`; returns the bytes advised, or
    /// nil when the kernel refused (before Linux 5.4: `EINVAL`) or nothing was found.
    @discardableResult
    package static func release() -> Int? {
        var advised = 0
        for range in mappings() {
            guard let address = UnsafeMutableRawPointer(bitPattern: range.start),
                madvise(address, range.length, MADV_PAGEOUT) == 0
            else { return nil }
            advised += range.length
        }
        return advised > 0 ? advised : nil
    }
}
