#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard input, output and error as raw descriptors: unbuffered, so that a script reading a
/// pipe sees each line at once, and without Foundation's `FileHandle`, which links all of
/// Foundation into the static binary.
package enum StandardStream: Int32, Sendable {
    case output = 1
    case error = 2

    package func write(_ text: String) {
        write(Array(text.utf8))
    }

    /// Writes all of `bytes`; a closed pipe drops the rest.
    package func write(_ bytes: [UInt8]) {
        _ = FileDescriptor.writeAll(bytes, to: rawValue)
    }

    /// Everything on standard input, up to end of file (or the first failed read).
    package static func readInput() -> [UInt8] {
        FileDescriptor.readAll(from: 0).bytes
    }
}

package enum FileDescriptor {
    /// Reads `descriptor` to its end, retrying interruptions: the bytes read, and the errno of the
    /// read that failed, if one did (the bytes are then those before it).
    package static func readAll(from descriptor: Int32) -> (bytes: [UInt8], error: Int32?) {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count < 0 { return (bytes, errno) }
            if count == 0 { return (bytes, nil) }
            bytes += chunk.prefix(count)
        }
    }

    /// Writes all of `bytes` to `descriptor`, retrying short writes and interruptions. Nil when
    /// every byte was written, else the errno of the write that failed (EIO for one that wrote nothing).
    package static func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Int32? {
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return count < 0 ? errno : EIO }
            written += count
        }
        return nil
    }
}

private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
