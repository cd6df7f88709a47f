import EdgeCore
import Glibc

/// The clean file pages start-up touched (the binary's code, read-only data and the metadata in
/// its writable segment, and the shared libraries'), handed back to the kernel once start-up is over.
///
/// Start-up touches code and metadata spread over the whole binary (the Swift runtime's type and
/// conformance lookups, each service's set-up) and over every library the loader relocates, and
/// the kernel maps up to 64 KB around each page touched: when the gateway is ready, two thirds of
/// its text (15 of 24 MB) is resident, though the idle daemon goes on using about a sixth of it.
/// These pages are clean copies of their files; `MADV_PAGEOUT` (Linux 5.4) drops them, and those
/// still in use fault back in. The kernel keeps pages other processes map too.
///
/// A writable private mapping (a segment's `.data`) mixes clean file pages, only read, with pages
/// copied on write, which hold the process's state: only runs of the former are advised, as
/// `/proc/self/pagemap` tells them apart, so no copied page is ever pushed to swap by this advice.
/// Shared mappings (the store's shared-memory index) are left alone.
package enum StartupPages {
    /// A private mapping of a file, from `/proc/self/maps`.
    package struct FileMapping: Sendable, Equatable {
        package var start: UInt
        package var length: Int
        package var path: String
        /// Writable (`rw-p`): only its clean file pages are advised.
        package var writable: Bool
    }

    /// The private file mappings, read-only, executable and writable, from `/proc/self/maps`;
    /// only those of `file` when given.
    package static func mappings(of file: String? = nil) -> [FileMapping] {
        // Read to its end: its size in `stat` is 0.
        guard let maps = readProcFile("/proc/self/maps") else { return [] }
        var found: [FileMapping] = []
        for line in String(decoding: maps, as: UTF8.self).split(separator: "\n") {
            // start-end perms offset dev inode path
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, ["r-xp", "r--p", "rw-p"].contains(fields[1]) else { continue }
            let path = fields[5].trimmingWhitespace
            guard path.hasPrefix("/"), !path.hasSuffix(" (deleted)"), file == nil || path == file else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), end > start else { continue }
            found.append(FileMapping(start: start, length: Int(end - start), path: path, writable: fields[1] == "rw-p"))
        }
        return found
    }

    /// The runs of pages from `start` (one `/proc/self/pagemap` entry per page) that hold no page
    /// copied on write, swapped or otherwise anonymous: absent pages and file pages only.
    package static func fileRuns(start: UInt, entries: [UInt64], pageSize: Int) -> [(start: UInt, length: Int)] {
        let present: UInt64 = 1 << 63, swapped: UInt64 = 1 << 62, filePage: UInt64 = 1 << 61
        var runs: [(start: UInt, length: Int)] = []
        var runStart: Int?
        for (index, entry) in entries.enumerated() {
            let anonymous = entry & swapped != 0 || (entry & present != 0 && entry & filePage == 0)
            if anonymous {
                if let first = runStart {
                    runs.append((start + UInt(first * pageSize), (index - first) * pageSize))
                    runStart = nil
                }
            } else if runStart == nil {
                runStart = index
            }
        }
        if let first = runStart { runs.append((start + UInt(first * pageSize), (entries.count - first) * pageSize)) }
        return runs
    }

    /// The `/proc/self/pagemap` entries of `pages` pages from `start`; nil when it cannot be read.
    package static func pagemapEntries(start: UInt, pages: Int, pageSize: Int) -> [UInt64]? {
        let descriptor = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var entries = [UInt64](repeating: 0, count: pages)
        let wanted = pages * MemoryLayout<UInt64>.size
        let read = entries.withUnsafeMutableBytes { buffer in
            pread(descriptor, buffer.baseAddress, wanted, off_t(start / UInt(pageSize)) * off_t(MemoryLayout<UInt64>.size))
        }
        return read == wanted ? entries : nil
    }

    /// Advises the kernel to reclaim the clean file pages of every mapping of `mappings()`;
    /// returns the bytes advised, or nil when the kernel refused (before Linux 5.4: `EINVAL`) or
    /// nothing was found.
    @discardableResult
    package static func release() -> Int? {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var advised = 0
        for mapping in mappings() {
            let runs: [(start: UInt, length: Int)]
            if mapping.writable {
                guard let entries = pagemapEntries(start: mapping.start, pages: mapping.length / pageSize, pageSize: pageSize) else { continue }
                runs = fileRuns(start: mapping.start, entries: entries, pageSize: pageSize)
            } else {
                runs = [(mapping.start, mapping.length)]
            }
            for run in runs {
                guard let address = UnsafeMutableRawPointer(bitPattern: run.start),
                    madvise(address, run.length, MADV_PAGEOUT) == 0
                else { return nil }
                advised += run.length
            }
        }
        return advised > 0 ? advised : nil
    }

    private static func readProcFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        let (bytes, error) = FileDescriptor.readAll(from: descriptor)
        return error == nil ? bytes : nil
    }
}
