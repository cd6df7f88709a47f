#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials

/// Path text and file status without Foundation's `NSString` and `FileManager.attributesOfItem`,
/// whose `NSString`/`NSNumber` link all of Foundation and ICU into the static binary.
/// Paths are POSIX paths as the operator wrote them: nothing is resolved or normalised.
package enum FilePaths {
    /// The folder part, as dirname(1): `/var/lib/x/store.sqlite` gives `/var/lib/x`, `/store` gives
    /// `/`, and a bare name gives `.`.
    package static func directory(of path: String) -> String {
        var text = Substring(path)
        while text.count > 1, text.last == "/" { text = text.dropLast() }
        guard let slash = text.lastIndex(of: "/") else { return "." }
        var folder = text[..<slash]
        while folder.count > 1, folder.last == "/" { folder = folder.dropLast() }
        return folder.isEmpty ? "/" : String(folder)
    }

    /// `name` inside `directory`, with one slash between them.
    package static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// `path` as written when absolute, else inside `base` (a configuration file's folder).
    package static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") || base == "." || base.isEmpty { return path }
        return join(base, path)
    }

    /// The last component: `profiles/strap.yaml` gives `strap.yaml`.
    package static func lastComponent(of path: String) -> String {
        var text = Substring(path)
        while text.count > 1, text.last == "/" { text = text.dropLast() }
        guard let slash = text.lastIndex(of: "/"), text.count > 1 else { return String(text) }
        return String(text[text.index(after: slash)...])
    }
}

extension FilePaths {
    /// True when `path` names a directory (following symbolic links).
    package static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}

/// What `stat(2)` says of a path, following symbolic links.
package struct FileStatus: Sendable, Equatable {
    /// Bytes, for a regular file.
    package let size: Int64
    /// The permission bits (`0o600`), without the file type.
    package let permissions: UInt16

    /// Nil when the path does not exist or cannot be read.
    package init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        size = Int64(info.st_size)
        permissions = UInt16(info.st_mode & 0o7777)
    }
}

/// The operating system's reason inside a file error, for messages that name the path
/// themselves: "No such file or directory" rather than Foundation's whole `CocoaError`.
package enum SystemErrorText {
    package static func reason(_ error: any Error) -> String {
        if let posix = error as? POSIXError { return text(of: posix.code.rawValue) }
        if let cocoa = error as? CocoaError, let posix = cocoa.underlying as? POSIXError { return text(of: posix.code.rawValue) }
        return String(describing: error)
    }

    /// `strerror` of an errno value.
    package static func text(of code: Int32) -> String { String(cString: strerror(code)) }
}
