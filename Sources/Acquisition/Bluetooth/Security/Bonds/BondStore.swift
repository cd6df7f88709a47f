import EdgeCore
import EdgeSystem
import FoundationEssentials
import Glibc
import JSONQuery

/// Why the bond file could not be read or written: names the file and the cause, never a key.
package struct BondStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    package var path: String
    package var reason: String

    package init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    package var description: String { "bond store \(path): \(reason)" }
}

/// The bonds this gateway holds, one per device identity address, in `<data dir>/bluetooth/bonds.json`.
///
/// Why a separate file and not the SQLite store (or keys sealed with AES-GCM under a key file):
/// the store is the thing operators copy off the box, back up and open read-only for diagnostics,
/// so keeping LTKs out of it keeps them out of every such copy; a key file would have to live in
/// the same data directory, so sealing would add nothing against someone who can read that
/// directory. The file is created 0600 inside a 0700 folder and refused when others can read it
/// (as ssh refuses a readable private key); it is replaced atomically (temporary file, fsync,
/// rename, fsync of the folder) under an exclusive `flock`, so a `ble pair` next to the daemon
/// never loses the other's bond. Deleting the file removes every bond; `fhir-edge ble pair
/// --forget ADDRESS` removes one. Keys are written as hex in wire order (least significant first);
/// `rand` is the 64-bit Rand as a hex number.
package actor BondStore {
    package nonisolated let path: String
    private nonisolated let directory: String

    package init(dataDirectory: String) {
        directory = FilePaths.join(dataDirectory, "bluetooth")
        path = FilePaths.join(directory, "bonds.json")
    }

    /// The bond for a device seen at `address` (its identity address, or a private address its
    /// IRK resolves), or nil.
    package func bond(for address: BluetoothAddress) throws(BondStoreError) -> Bond? {
        try withLock { () throws(BondStoreError) in try read().bonds.first { $0.matches(address) } }
    }

    package func allBonds() throws(BondStoreError) -> [Bond] {
        try withLock { () throws(BondStoreError) in try read().bonds }
    }

    /// Keeps `bond`, replacing any earlier bond of the same device.
    package func save(_ bond: Bond) throws(BondStoreError) {
        try withLock { () throws(BondStoreError) in
            var contents = try read()
            contents.bonds.removeAll { $0.matches(bond.address) }
            contents.bonds.append(bond)
            try write(contents)
        }
    }

    /// Forgets the bond of `address`; true when there was one.
    @discardableResult
    package func remove(_ address: BluetoothAddress) throws(BondStoreError) -> Bool {
        try withLock { () throws(BondStoreError) in
            var contents = try read()
            let before = contents.bonds.count
            contents.bonds.removeAll { $0.matches(address) }
            guard contents.bonds.count != before else { return false }
            try write(contents)
            return true
        }
    }

    /// The gateway's own IRK, distributed with its identity address; created on first use.
    func localIdentityResolvingKey(generate: () -> [UInt8]) throws(BondStoreError) -> SecretKey {
        try withLock { () throws(BondStoreError) in
            var contents = try read()
            if let key = contents.localIRK { return key }
            guard let key = SecretKey(octets: generate()) else { throw failure("a generated IRK is not 16 octets") }
            contents.localIRK = key
            try write(contents)
            return key
        }
    }

    // MARK: File format

    struct Contents {
        var localIRK: SecretKey?
        var bonds: [Bond] = []
    }

    private func read() throws(BondStoreError) -> Contents {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT { return Contents() }
            throw failure("cannot be read: \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & 0o077 == 0 else {
            throw failure("is readable by other users (mode \(String(status.st_mode & 0o777, radix: 8))): run chmod 600 on it")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw failure("cannot be read") }
        let json: JSONValue
        do { json = try JSONValue(parsing: [UInt8](data)) } catch { throw failure("is not valid JSON: \(error)") }
        return try Self.contents(from: json, path: path)
    }

    static func contents(from json: JSONValue, path: String) throws(BondStoreError) -> Contents {
        func bad(_ why: String) -> BondStoreError { BondStoreError(path: path, reason: why) }
        guard json["format"] == .int(1) else { throw bad("unknown format (expected \"format\": 1)") }
        var contents = Contents()
        if let irk = json["localIdentityResolvingKey"]?.stringValue {
            guard let key = SecretKey(octets: Hex.bytes(irk) ?? []) else { throw bad("localIdentityResolvingKey is not 16 hex octets") }
            contents.localIRK = key
        }
        for (index, entry) in (json["bonds"]?.arrayValue ?? []).enumerated() {
            let at = "bonds[\(index)]"
            guard let text = entry["address"]?.stringValue, let type = entry["addressType"]?.stringValue,
                  type == "random" || type == "public", let address = BluetoothAddress(text, type: type == "random" ? .random : .public)
            else { throw bad("\(at): address and addressType (public|random) are required") }
            guard let ltk = SecretKey(octets: Hex.bytes(entry["longTermKey"]?.stringValue ?? "") ?? []) else {
                throw bad("\(at): longTermKey is not 16 hex octets")
            }
            guard case .int(let ediv)? = entry["ediv"], (0...0xFFFF).contains(ediv),
                  let randText = entry["rand"]?.stringValue, randText.count == 16, let rand = UInt64(randText, radix: 16),
                  case .int(let keySize)? = entry["keySize"], (7...16).contains(keySize),
                  case .bool(let authenticated)? = entry["authenticated"],
                  case .bool(let secureConnections)? = entry["secureConnections"],
                  let pairedAt = entry["pairedAt"]?.stringValue.flatMap(Timestamp.init(parsingISO8601Lenient:))
            else { throw bad("\(at): ediv, rand, keySize, authenticated, secureConnections and pairedAt are required") }
            var irk: SecretKey?
            if let text = entry["identityResolvingKey"]?.stringValue {
                guard let key = SecretKey(octets: Hex.bytes(text) ?? []) else { throw bad("\(at): identityResolvingKey is not 16 hex octets") }
                irk = key
            }
            contents.bonds.append(Bond(
                address: address, longTermKey: ltk, ediv: UInt16(ediv), rand: rand, identityResolvingKey: irk,
                keySize: Int(keySize), authenticated: authenticated, secureConnections: secureConnections,
                pairedAtMilliseconds: pairedAt.millisecondsSinceEpoch))
        }
        return contents
    }

    static func json(_ contents: Contents) -> JSONValue {
        var object: JSONObject = ["format": 1]
        if let irk = contents.localIRK { object["localIdentityResolvingKey"] = .string(Hex.string(irk.octets)) }
        object["bonds"] = .array(contents.bonds.map { bond in
            var entry: JSONObject = [
                "address": .string(bond.address.description),
                "addressType": .string(bond.address.type.commandValue == .random ? "random" : "public"),
                "longTermKey": .string(Hex.string(bond.longTermKey.octets)), "ediv": .int(Int64(bond.ediv)),
                "rand": .string(Hex.string(withUnsafeBytes(of: bond.rand.bigEndian) { Array($0) })),
                "keySize": .int(Int64(bond.keySize)), "authenticated": .bool(bond.authenticated),
                "secureConnections": .bool(bond.secureConnections),
                "pairedAt": .string(Timestamp(millisecondsSinceEpoch: bond.pairedAtMilliseconds).iso8601),
            ]
            if let irk = bond.identityResolvingKey { entry["identityResolvingKey"] = .string(Hex.string(irk.octets)) }
            return .object(entry)
        })
        return .object(object)
    }

    private func write(_ contents: Contents) throws(BondStoreError) {
        var bytes: [UInt8] = []
        JSONWriter(options: [.pretty]).write(Self.json(contents), into: &bytes)
        bytes.append(0x0A)
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        if let code = FileDescriptor.writeAll(bytes, to: fd) {
            close(fd)
            unlink(temporary)
            throw failure("cannot write \(temporary): \(SystemErrorText.text(of: code))")
        }
        guard fsync(fd) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            unlink(temporary)
            throw failure("cannot sync \(temporary): \(why)")
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw failure("cannot replace the file: \(why)")
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Runs `body` holding an exclusive lock on `bonds.lock`, creating the data directory and the
    /// 0700 folder first.
    private func withLock<T>(_ body: () throws(BondStoreError) -> T) throws(BondStoreError) -> T {
        let dataDirectory = FilePaths.directory(of: directory)
        if !FileManager.default.fileExists(atPath: dataDirectory) {
            do {
                try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            } catch {
                throw failure("cannot create the data directory \(dataDirectory): \(SystemErrorText.reason(error))")
            }
        }
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw failure("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let lockPath = FilePaths.join(directory, "bonds.lock")
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw failure("cannot lock \(lockPath): \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    private func failure(_ reason: String) -> BondStoreError { BondStoreError(path: path, reason: reason) }
}
