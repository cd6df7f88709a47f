import ArgumentParser
import EdgeCore
import EdgeSystem
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Gateway
import JSONQuery
import Simulator
import Store

struct DiagnosticsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnostics",
        abstract: "Write one redacted archive (tar.gz) for support.",
        discussion: """
            The archive holds: the configuration with every secret, token hash, patient id and \
            URL password masked (config.yaml); versions of fhir-edge and the system \
            (versions.txt); the doctor's findings (doctor.json, doctor.txt); the store's counts \
            (store.json: counts and bytes only, never rows); the daemon's metrics when its local \
            API answers (metrics.txt); and the recent log lines (log.txt: journalctl -u \
            fhir-edge, else --log-file), with tokens and URL passwords masked. No payload and no \
            patient data is read into it.

            Exits 0 when the archive was written, 1 when it could not be.
            """)

    @Option(name: .long, help: "Where to write the archive (default: fhir-edge-diagnostics-<UTC time>.tar.gz here).")
    var out: String?

    @OptionGroup var store: StoreLocation

    @Option(name: .customLong("log-file"), help: "A log file to take the recent lines from when journalctl has none.")
    var logFile: String?

    @Option(name: .customLong("token-env"), help: "An environment variable holding a viewer token, to read /metrics of a daemon that is not in demo mode.")
    var tokenEnv: String?

    @Option(name: .long, help: "How many recent log lines to include.")
    var lines: Int = 500

    func run() async throws {
        let stamp = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)).iso8601
            .replacing(":", with: "").replacing("-", with: "")
        let output = out ?? "fhir-edge-diagnostics-\(stamp.prefix(15)).tar.gz"
        guard let tar = Doctor.tool("tar") else {
            reportToStandardError("fhir-edge: diagnostics needs tar (/usr/bin/tar); install it")
            throw ExitCode(1)
        }
        let staging = FileManager.default.temporaryDirectory.appending(path: "fhir-edge-diagnostics-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let folder = staging.appending(path: "fhir-edge-diagnostics")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            reportToStandardError("fhir-edge: cannot create a staging folder in \(FilePaths.directory(of: staging.path)): \(SystemErrorText.reason(error))")
            throw ExitCode(1)
        }
        defer { try? FileManager.default.removeItem(at: staging) }
        var files: [String: String] = [:]

        var configuration: GatewayConfiguration?
        if let file = store.config ?? (FileManager.default.fileExists(atPath: Doctor.defaultConfiguration) ? Doctor.defaultConfiguration : nil) {
            if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                files["config.yaml"] = "# \(file), redacted by fhir-edge diagnostics\n" + Redaction.configuration(text)
            } else {
                files["config.yaml"] = "# \(file) could not be read\n"
            }
            configuration = try? GatewayConfiguration.load(file: file, overrides: ConfigurationOverrides(dataDirectory: store.dataDir))
        }
        files["versions.txt"] = Self.versions()

        var doctor = Doctor(configurationFile: store.config, dataDirectory: store.dataDir)
        await doctor.run()
        files["doctor.json"] = JSONWriter(options: [.pretty]).string(doctor.json) + "\n"
        files["doctor.txt"] = Redaction.logLines(doctor.lines).joined(separator: "\n") + "\n"

        files["store.json"] = await storeCounts()
        if let configuration, let metrics = await metrics(configuration) { files["metrics.txt"] = metrics }
        files["log.txt"] = recentLog()

        for (name, text) in files {
            let path = FilePaths.join(folder.path, name)
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                reportToStandardError("fhir-edge: cannot write \(path)")
                throw ExitCode(1)
            }
        }
        let absolute = output.hasPrefix("/") ? output : FileManager.default.currentDirectoryPath + "/" + output
        let status = Self.run(tar, ["-czf", absolute, "-C", staging.path, "fhir-edge-diagnostics"])
        guard status == 0, FileManager.default.fileExists(atPath: absolute) else {
            reportToStandardError("fhir-edge: tar could not write \(output) (exit \(status))")
            throw ExitCode(1)
        }
        chmod(absolute, 0o600)
        print("wrote \(output): \(files.keys.sorted().joined(separator: ", ")); doctor found \(doctor.problems ? "problems" : "no problem")")
    }

    /// Counts and sizes only: the statistics query reads no row of patient data.
    func storeCounts() async -> String {
        do {
            let path = try store.storePath()
            guard FileManager.default.fileExists(atPath: path) else { return "{\"store\": \"none at \(path)\"}\n" }
            let reader = try StoreReader.openReadOnly(path: path, encryption: store.encryption(forStore: path))
            defer { try? reader.close() }
            let now = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
            let statistics = try await reader.statistics(at: now)
            let value: JSONValue = [
                "received": .int(statistics.received), "refused": .int(statistics.refused), "inbox": .int(statistics.inbox),
                "outboxPending": .int(statistics.outboxPending), "outboxSent": .int(statistics.outboxSent),
                "deadLetters": .int(statistics.deadLetters), "bytes": .int(statistics.bytes),
                "oldestUnsentSeconds": statistics.oldestUnsentAge.map { .int($0.components.seconds) } ?? .null,
                "atHighWaterMark": .bool(statistics.atHighWaterMark), "journalEntries": .int(statistics.journalEntries),
                "encrypted": .bool(reader.isEncrypted),
            ]
            return JSONWriter(options: [.pretty]).string(value) + "\n"
        } catch {
            return JSONWriter(options: [.pretty]).string(["error": .string(Redaction.logLine("\(error)"))]) + "\n"
        }
    }

    /// `/metrics` of a daemon listening on loopback (demo mode, or with a viewer token).
    func metrics(_ configuration: GatewayConfiguration) async -> String? {
        let listen = configuration.http.listen
        guard configuration.http.tls == nil else { return nil }
        let host = ["0.0.0.0", "::", ""].contains(listen.host) ? "127.0.0.1" : listen.host
        guard listen.port > 0 else { return nil }
        let client = LoopbackHTTPClient(host: host, port: listen.port, timeoutSeconds: 5)
        var headers: [(String, String)] = []
        if let tokenEnv, let token = ProcessInfo.processInfo.environment[tokenEnv], !token.isEmpty {
            headers.append(("Authorization", "Bearer " + token))
        }
        guard let reply = try? await client.send("GET", "/metrics", headers: headers), reply.status == 200 else { return nil }
        return reply.text
    }

    func recentLog() -> String {
        let count = max(1, min(lines, 100_000))
        if let journalctl = Doctor.tool("journalctl"),
           let text = Doctor.runTool(journalctl, ["-u", "fhir-edge", "-n", String(count), "--no-pager", "-o", "short-iso"], timeout: .seconds(20)),
           text.split(separator: "\n").contains(where: { !$0.hasPrefix("-- ") }) {
            return "# journalctl -u fhir-edge -n \(count)\n" + Redaction.logLines(text.split(separator: "\n").map(String.init)).joined(separator: "\n") + "\n"
        }
        if let logFile {
            guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return "# \(logFile) could not be read\n" }
            let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(count).map(String.init)
            return "# the last \(tail.count) lines of \(logFile)\n" + Redaction.logLines(tail).joined(separator: "\n") + "\n"
        }
        return "# no log: journalctl has no fhir-edge lines here and no --log-file was given\n"
    }

    static func versions() -> String {
        var text = "fhir-edge \(GatewayVersion.current)\n"
        var name = utsname()
        if uname(&name) == 0 {
            func field<T>(_ value: T) -> String { withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
            text += "kernel \(field(name.sysname)) \(field(name.release)) \(field(name.machine))\n"
        }
        if let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
           let pretty = release.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") }) {
            text += "os \(pretty.dropFirst("PRETTY_NAME=".count).trimming(["\""]))\n"
        }
        for tool in ["systemctl", "openssl", "tar"] {
            if let path = Doctor.tool(tool), let version = Doctor.runTool(path, ["--version"], timeout: .seconds(5))?.split(separator: "\n").first {
                text += "\(tool) \(version)\n"
            }
        }
        return text
    }

    static func run(_ executable: String, _ arguments: [String]) -> Int32 {
        guard let outcome = try? ChildProcess.run(executable, arguments, timeout: .seconds(300), outputLimit: 0) else { return -1 }
        return outcome.status ?? -1
    }
}

/// Masks what support must not see: secrets, token hashes, patient ids and URL passwords.
enum Redaction {
    static let mask = "***"

    /// A YAML configuration, line by line: the value of every key that names a secret or a
    /// patient is masked (file, environment and credential *names* stay: they are where, not
    /// what), and so is the password of any URL. Block scalars under such a key go too, and
    /// whole-line comments.
    static func configuration(_ text: String) -> String {
        var output: [String] = []
        var maskingBlockDeeperThan: Int?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let indent = line.prefix { $0 == " " }.count
            if let depth = maskingBlockDeeperThan {
                if line.trimmingSpaces.isEmpty || indent > depth {
                    output.append(String(repeating: " ", count: indent) + (line.trimmingSpaces.isEmpty ? "" : mask))
                    continue
                }
                maskingBlockDeeperThan = nil
            }
            // Comments are free text (a bed, a name, a password): only their place is kept.
            if line.dropFirst(indent).hasPrefix("#") {
                output.append(String(repeating: " ", count: indent) + "# (comment removed)")
                continue
            }
            output.append(maskLine(line, indent: indent, blockStarts: &maskingBlockDeeperThan))
        }
        return output.joined(separator: "\n")
    }

    static func isSensitive(_ key: String) -> Bool {
        let lower = key.lowercased()
        for harmless in ["file", "env", "credential", "url", "path", "directory", "mode", "authentication"] where lower.hasSuffix(harmless) {
            return lower.contains("patient")
        }
        return ["secret", "token", "password", "passwd", "sha256", "hash", "patient", "apikey", "api_key", "privatekey", "key"].contains { lower.contains($0) }
            && lower != "keyid" && lower != "keysize"
    }

    private static func maskLine(_ line: String, indent: Int, blockStarts: inout Int?) -> String {
        var body = Substring(line.dropFirst(indent))
        var prefix = String(repeating: " ", count: indent)
        if body.hasPrefix("- ") {
            prefix += "- "
            body = body.dropFirst(2)
        }
        // Flow mappings on one line (`ward: {tokenSHA256: abc, roles: [viewer]}`) are masked member by member.
        if let brace = body.firstIndex(of: "{"), body.hasSuffix("}") {
            let head = body[..<brace]
            let inner = body[body.index(after: brace)..<body.index(before: body.endIndex)]
            let members = inner.split(separator: ",", omittingEmptySubsequences: false).map { member -> String in
                let parts = member.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2 else { return String(member) }
                let key = parts[0].trimmingSpaces
                return isSensitive(key) ? " \(key): \(mask)" : " \(key):" + urls(String(parts[1]))
            }
            let joined = String(members.joined(separator: ",").dropFirst())
            return prefix + urls(String(head)) + "{" + joined + "}"
        }
        guard let colon = body.firstIndex(of: ":") else { return prefix + urls(String(body)) }
        let key = body[..<colon].trimmingSpaces.trimming(["\"", "'"])
        let value = body[body.index(after: colon)...].trimmingSpaces
        guard isSensitive(key) else { return prefix + urls(String(body)) }
        if value.isEmpty || value.hasPrefix("|") || value.hasPrefix(">") {
            blockStarts = indent
            return prefix + String(body[..<colon]) + ":" + (value.isEmpty ? "" : " " + mask)
        }
        return prefix + String(body[..<colon]) + ": " + mask
    }

    /// `scheme://user:password@host` → `scheme://user:***@host`.
    static func urls(_ text: String) -> String {
        var output = ""
        var rest = Substring(text)
        while let scheme = rest.firstRange(of: "://") {
            output += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authority = rest.prefix { !"/ ?#\"'".contains($0) }
            if let at = authority.lastIndex(of: "@") {
                let user = authority[..<at]
                let name = user.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
                output += (user.contains(":") ? name + ":" + mask : mask) + "@"
                rest = rest[rest.index(after: at)...]
            }
        }
        return output + rest
    }

    /// A log line: URL passwords and bearer tokens masked.
    static func logLine(_ line: String) -> String {
        var text = urls(line)
        for marker in ["Bearer ", "bearer ", "token=", "access_token\":\"", "client_secret="] {
            var searchFrom = text.startIndex
            while let range = text[searchFrom...].firstRange(of: marker) {
                let end = text[range.upperBound...].firstIndex { " \"&,;".contains($0) } ?? text.endIndex
                text.replaceSubrange(range.upperBound..<end, with: mask)
                searchFrom = text.index(range.upperBound, offsetBy: mask.count)
            }
        }
        return text
    }

    static func logLines(_ lines: [String]) -> [String] { lines.map(logLine) }
}
