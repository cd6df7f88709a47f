import EdgeSystem
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owner-only permissions for the store whatever the umask: its folder 0700, the database and
/// its -wal, -shm and -journal files 0600. SQLite gives the files it creates the database
/// file's mode, so the database is created 0600 before SQLite opens it.
enum StoreFiles {
    static let companions = ["", "-wal", "-shm", "-journal"]

    static func prepare(path: String) throws(StoreError) {
        let directory = FilePaths.directory(of: path)
        if !directory.isEmpty {
            if !FileManager.default.fileExists(atPath: directory) {
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                            attributes: [.posixPermissions: 0o700])
                } catch {
                    throw StoreError(.notAStore, "cannot create the store's folder; check the path and its permissions",
                        location: directory, cause: error)
                }
            }
            // Tightened when this user owns it; a folder of another owner is left as it is.
            _ = chmod(directory, 0o700)
        }
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            _ = fchmod(descriptor, 0o600)
            close(descriptor)
        }
    }

    /// Sets 0600 on the database and whichever companion files exist.
    static func restrict(path: String) throws(StoreError) {
        for suffix in companions where FileManager.default.fileExists(atPath: path + suffix) {
            guard chmod(path + suffix, 0o600) == 0 else {
                throw StoreError(.notAStore, "cannot make the store file readable by its owner only (chmod 0600 failed, errno \(errno))",
                    location: path + suffix)
            }
        }
    }
}
