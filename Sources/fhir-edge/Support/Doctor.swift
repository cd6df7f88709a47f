import EdgeCore
import EdgeSystem
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Bluetooth
import Gateway
import JSONQuery
import Modbus
import Store
import Upstream

/// What `fhir-edge doctor` checks, each with what it found and the fix in words. Every check
/// catches its own failures: a broken configuration, a missing folder or an absent tool is a
/// finding, never a crash.
struct Doctor {
    enum Outcome: String { case ok, warning, failed, skipped }

    struct Check {
        var name: String
        var outcome: Outcome
        var message: String
        var fix: String?
    }

    var checks: [Check] = []
    var configurationFile: String?
    var dataDirectory: String?
    /// Where the kernel lists adapters and radios (replaced by tests).
    var sysfs = "/sys"

    var problems: Bool { checks.contains { $0.outcome == .failed } }

    mutating func note(_ name: String, _ outcome: Outcome, _ message: String, fix: String? = nil) {
        checks.append(Check(name: name, outcome: outcome, message: message, fix: fix))
    }

    static let defaultConfiguration = "/etc/fhir-edge/config.yaml"

    mutating func run(checkUpstream: Bool = true) async {
        let file = configurationFile ?? (FileManager.default.fileExists(atPath: Self.defaultConfiguration) ? Self.defaultConfiguration : nil)
        var configuration: GatewayConfiguration?
        if let file {
            switch GatewayLauncher.load(file: file, overrides: ConfigurationOverrides(dataDirectory: dataDirectory)) {
            case .success(let (loaded, catalog)):
                configuration = loaded
                note("config", .ok, "\(file): valid, \(catalog.names.count) profile(s), store \(loaded.storePath)")
                for warning in loaded.warnings { note("config", .warning, warning.description, fix: "see docs/security.md") }
            case .failure(let error):
                let list = error.problems.prefix(10).map(\.description).joined(separator: "; ")
                note("config", .failed, "\(file): \(error.problems.count) problem(s): \(list)",
                     fix: "correct each named key (fhir-edge config check \(file) lists them all), then restart the service")
            }
        } else {
            note("config", .warning, "no configuration given and none at \(Self.defaultConfiguration)",
                 fix: "pass --config FILE (the file the service runs with)")
        }
        let directory = configuration.map { FilePaths.directory(of: $0.storePath) } ?? dataDirectory
        checkDataDirectory(directory)
        checkDisk(directory, configuration)
        checkClock()
        if checkUpstream { await self.checkUpstream(configuration) }
        checkBluetooth(configuration)
        checkSerialPorts(configuration)
        checkService()
    }

    // MARK: Data directory and disk

    mutating func checkDataDirectory(_ directory: String?) {
        guard let directory else {
            note("data-dir", .skipped, "no data directory known", fix: "pass --config FILE or --data-dir DIR")
            return
        }
        var info = stat()
        guard stat(directory, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            note("data-dir", errno == ENOENT ? .warning : .failed, "\(directory): \(reason)",
                 fix: errno == ENOENT ? "the service creates it at first start; or mkdir -m 700 \(directory) && chown fhir-edge: \(directory)"
                     : "make \(directory) reachable by the service's user")
            return
        }
        guard info.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR) else {
            note("data-dir", .failed, "\(directory) is not a directory", fix: "point dataDir at a directory")
            return
        }
        let mode = info.st_mode & 0o7777
        let owner = Self.userName(info.st_uid)
        var findings: [String] = []
        if mode & 0o077 != 0 { findings.append("mode \(String(mode, radix: 8)) lets other users in") }
        if access(directory, W_OK) != 0 { findings.append("not writable by \(Self.userName(geteuid()))") }
        var loose: [String] = []
        if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for name in names.sorted() {
                var file = stat()
                if stat(directory + "/" + name, &file) == 0, file.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG), file.st_mode & 0o077 != 0 {
                    loose.append("\(name) (\(String(file.st_mode & 0o777, radix: 8)))")
                }
            }
        }
        if !loose.isEmpty { findings.append("readable by others: " + loose.prefix(5).joined(separator: ", ")) }
        if findings.isEmpty {
            note("data-dir", .ok, "\(directory): owner \(owner), mode \(String(mode, radix: 8))")
        } else {
            note("data-dir", .failed, "\(directory) (owner \(owner)): " + findings.joined(separator: "; "),
                 fix: "chown -R fhir-edge: \(directory) && chmod 700 \(directory) && chmod 600 \(directory)/*")
        }
    }

    mutating func checkDisk(_ directory: String?, _ configuration: GatewayConfiguration?) {
        guard let directory else { return }
        var path = directory
        // The folder may not exist yet: measure the filesystem it will be created on.
        while !FileManager.default.fileExists(atPath: path), path != "/", path != ".", !path.isEmpty { path = FilePaths.directory(of: path) }
        var info = statvfs()
        guard statvfs(path.isEmpty ? "." : path, &info) == 0 else {
            note("disk", .warning, "\(path): cannot measure free space (\(String(cString: strerror(errno))))")
            return
        }
        let free = Int64(info.f_bavail) * Int64(info.f_frsize)
        guard let configuration else {
            note("disk", .ok, "\(Self.bytes(free)) free on \(path)")
            return
        }
        let maxBytes = configuration.store.maxBytes
        let stored = ["", "-wal", "-shm"].reduce(Int64(0)) { total, suffix in
            total + (FileStatus(path: configuration.storePath + suffix)?.size ?? 0)
        }
        let needed = max(0, maxBytes - stored)
        if free < needed {
            note("disk", .failed, "\(Self.bytes(free)) free on \(path), the store may grow by \(Self.bytes(needed)) more (store.maxBytes \(Self.bytes(maxBytes)))",
                 fix: "free space on \(path), move dataDir to a larger disk, or lower store.maxBytes below what is free")
        } else {
            note("disk", .ok, "\(Self.bytes(free)) free on \(path); store files \(Self.bytes(stored)) of store.maxBytes \(Self.bytes(maxBytes))")
        }
    }

    // MARK: Clock

    mutating func checkClock() {
        let clock = ClockState.probe()
        switch clock.sync {
        case .synchronised:
            if let error = clock.estimatedErrorMilliseconds, error > 1000 {
                note("clock", .warning, clock.summary, fix: "check the time source (timedatectl timesync-status, chronyc tracking)")
            } else {
                note("clock", .ok, clock.summary)
            }
        case .unsynchronised:
            note("clock", .failed, "the system clock is not synchronised: \(clock.summary); receive times and the journal would drift",
                 fix: "enable a time source: timedatectl set-ntp true (systemd-timesyncd), or install chrony; allow NTP (UDP 123) out")
        case .unknown:
            note("clock", .warning, "cannot tell whether the clock is synchronised (\(clock.source))", fix: "check with timedatectl")
        }
    }

    // MARK: Upstream

    mutating func checkUpstream(_ configuration: GatewayConfiguration?) async {
        guard let server = configuration?.upstream else {
            note("upstream", .skipped, configuration == nil ? "no configuration" : "no upstream: section; readings stay on the box")
            return
        }
        let url = server.url
        let host = Self.host(of: url)
        if let host, !host.isEmpty {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, nil, &hints, &result)
            if status == 0 {
                freeaddrinfo(result)
                note("upstream.dns", .ok, "\(host) resolves")
            } else {
                note("upstream.dns", .failed, "\(host) does not resolve: \(String(cString: gai_strerror(status)))",
                     fix: "check /etc/resolv.conf and the network, or the host name in upstream.url")
                return
            }
        }
        if url.lowercased().hasPrefix("https://"), let host { checkCertificate(host: host, port: Self.port(of: url) ?? 443) }
        var report = UpstreamCheck(url: UpstreamTransportError.loggable(url), mode: server.auth.mode.name, bundleType: server.upload.bundleType,
                                   idempotency: server.upload.idempotency)
        await report.run(configuration: server.auth, transport: CurlTransport(options: server.transport))
        for finding in report.findings {
            let outcome: Outcome = switch finding.outcome {
            case .ok: .ok
            case .warning: .warning
            case .failed: .failed
            }
            note("upstream." + finding.step, outcome, finding.message,
                 fix: finding.outcome == .ok ? nil : "fhir-edge upstream check --config FILE shows the details; see docs/upstream.md")
        }
    }

    /// The server certificate's expiry, through openssl (installed with the package's
    /// dependencies); the chain itself is verified by the connect step.
    mutating func checkCertificate(host: String, port: Int) {
        guard let openssl = Self.tool("openssl") else {
            note("upstream.tls-expiry", .skipped, "openssl is not installed; expiry not checked")
            return
        }
        let script = "\(openssl) s_client -connect \(Self.shellQuote("\(host):\(port)")) -servername \(Self.shellQuote(host)) </dev/null 2>/dev/null | \(openssl) x509 -noout -enddate"
        guard let output = Self.runTool("/bin/sh", ["-c", script], timeout: .seconds(15)), let line = output.split(separator: "\n").first(where: { $0.hasPrefix("notAfter=") }) else {
            note("upstream.tls-expiry", .warning, "could not read the certificate of \(host):\(port)", fix: "openssl s_client -connect \(host):\(port) shows why")
            return
        }
        let text = String(line.dropFirst("notAfter=".count))
        guard let expiry = Timestamp(parsingCertificateTime: text) else {
            note("upstream.tls-expiry", .warning, "certificate expiry \(text) not understood")
            return
        }
        let days = Int((expiry.millisecondsSinceEpoch - Store.systemClock().millisecondsSinceEpoch) / 86_400_000)
        if days < 0 {
            note("upstream.tls-expiry", .failed, "the server's certificate expired on \(text)", fix: "the server's operator must renew it")
        } else if days < 14 {
            note("upstream.tls-expiry", .warning, "the server's certificate expires in \(days) day(s) (\(text))", fix: "ask the server's operator to renew it")
        } else {
            note("upstream.tls-expiry", .ok, "the server's certificate is valid for \(days) more days")
        }
    }

    // MARK: Bluetooth and serial ports

    mutating func checkBluetooth(_ configuration: GatewayConfiguration?) {
        guard let bluetooth = configuration?.bluetooth else {
            note("bluetooth", .skipped, "no bluetooth: section")
            return
        }
        switch bluetooth.transport {
        case .tcp:
            note("bluetooth", .ok, "controller over TCP (\(bluetooth.transport)): no adapter needed")
        case .uart(let path, _, _):
            checkSerial(path, name: "bluetooth")
        case .userChannel(let adapter):
            let name = "hci\(adapter)"
            guard FileManager.default.fileExists(atPath: "\(sysfs)/class/bluetooth/\(name)") else {
                note("bluetooth.adapter", .failed, "no Bluetooth adapter \(name) (\(sysfs)/class/bluetooth)",
                     fix: "plug in the adapter or pick another with bluetooth.transport: hci:N; check dmesg and lsusb")
                return
            }
            note("bluetooth.adapter", .ok, "\(name) present")
            var blocked: [String] = []
            for radio in (try? FileManager.default.contentsOfDirectory(atPath: "\(sysfs)/class/rfkill")) ?? [] {
                let base = "\(sysfs)/class/rfkill/\(radio)"
                guard Self.read("\(base)/type") == "bluetooth" else { continue }
                if Self.read("\(base)/soft") == "1" { blocked.append("\(radio) soft") }
                if Self.read("\(base)/hard") == "1" { blocked.append("\(radio) hard") }
            }
            if blocked.isEmpty {
                note("bluetooth.rfkill", .ok, "no Bluetooth radio blocked")
            } else {
                note("bluetooth.rfkill", .failed, "blocked: " + blocked.joined(separator: ", "),
                     fix: "rfkill unblock bluetooth (a hard block is a switch or the firmware setup)")
            }
            // The user channel needs CAP_NET_ADMIN and CAP_NET_RAW; the unit grants them in its Bluetooth drop-in.
            let status = Self.read("/proc/self/status") ?? ""
            let capabilities = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") } ?? ""
            let effective = UInt64(capabilities.dropFirst(7).trimmingSpaces, radix: 16) ?? 0
            let needed: UInt64 = (1 << 12) | (1 << 13)
            if effective & needed == needed {
                note("bluetooth.capabilities", .ok, "CAP_NET_ADMIN and CAP_NET_RAW held")
            } else {
                note("bluetooth.capabilities", .warning, "this shell lacks CAP_NET_ADMIN/CAP_NET_RAW, which the HCI user channel needs",
                     fix: "the service gets them from packaging/systemd/bluetooth.conf (/etc/systemd/system/fhir-edge.service.d/); run doctor with sudo to check as the service would")
            }
            if Self.runTool("/bin/sh", ["-c", "command -v systemctl >/dev/null && systemctl is-active bluetooth"], timeout: .seconds(5))?.hasPrefix("active") == true {
                note("bluetooth.bluez", .warning, "bluetoothd is running and holds the adapter the user channel needs",
                     fix: "systemctl disable --now bluetooth, or give bluez another adapter")
            }
        }
    }

    mutating func checkSerialPorts(_ configuration: GatewayConfiguration?) {
        let ports = (configuration?.modbus.devices ?? []).compactMap { device -> (String, String)? in
            if case .rtu(let line) = device.endpoint { return (line.device, "modbus " + device.name) }
            return nil
        }
        guard !ports.isEmpty else {
            note("serial", .skipped, "no Modbus RTU device configured")
            return
        }
        for (path, user) in ports { checkSerial(path, name: "serial \(user)") }
    }

    mutating func checkSerial(_ path: String, name: String) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            note(name, .failed, "\(path): \(String(cString: strerror(errno)))",
                 fix: "plug the adapter in and use its stable name under /dev/serial/by-id/")
            return
        }
        guard info.st_mode & mode_t(S_IFMT) == mode_t(S_IFCHR) else {
            note(name, .failed, "\(path) is not a serial device", fix: "use the adapter's device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/…")
            return
        }
        let descriptor = open(path, O_RDWR | O_NONBLOCK | O_NOCTTY)
        if descriptor >= 0 {
            close(descriptor)
            note(name, .ok, "\(path) opens")
        } else if errno == EACCES || errno == EPERM {
            note(name, .failed, "\(path): permission denied for \(Self.userName(geteuid()))",
                 fix: "the service's unit allows it through packaging/systemd/serial.conf; for a shell, add the user to group \(Self.groupName(info.st_gid))")
        } else {
            note(name, .warning, "\(path): \(String(cString: strerror(errno)))", fix: "another program may hold it (fuser \(path))")
        }
    }

    // MARK: The service

    mutating func checkService() {
        guard FileManager.default.fileExists(atPath: "/run/systemd/system"), Self.tool("systemctl") != nil else {
            note("service", .skipped, "systemd is not running here")
            return
        }
        let state = Self.runTool("/bin/sh", ["-c", "systemctl is-active fhir-edge 2>/dev/null"], timeout: .seconds(10))?
            .trimmingWhitespace ?? "unknown"
        switch state {
        case "active": note("service", .ok, "fhir-edge.service is active")
        case "activating", "reloading": note("service", .warning, "fhir-edge.service is \(state)", fix: "wait, then run doctor again")
        default:
            note("service", .failed, "fhir-edge.service is \(state.isEmpty ? "unknown" : state)",
                 fix: "systemctl enable --now fhir-edge; journalctl -u fhir-edge -n 50 says why it stopped")
        }
    }

    // MARK: Output

    var lines: [String] {
        var lines: [String] = []
        for check in checks {
            let mark = switch check.outcome {
            case .ok: "ok     "
            case .warning: "warning"
            case .failed: "FAILED "
            case .skipped: "skipped"
            }
            lines.append("\(mark) \(check.name): \(check.message)")
            if let fix = check.fix, check.outcome != .ok { lines.append("        fix: \(fix)") }
        }
        let failed = checks.filter { $0.outcome == .failed }.count
        let warnings = checks.filter { $0.outcome == .warning }.count
        lines.append(failed == 0 ? "no problem found (\(warnings) warning(s))" : "\(failed) problem(s), \(warnings) warning(s)")
        return lines
    }

    var json: JSONValue {
        var checks: [JSONValue] = []
        for check in self.checks {
            var object: JSONObject = ["name": .string(check.name), "outcome": .string(check.outcome.rawValue), "message": .string(check.message)]
            if let fix = check.fix { object["fix"] = .string(fix) }
            checks.append(.object(object))
        }
        return ["version": .string(GatewayVersion.current), "ok": .bool(!problems), "checks": .array(checks)]
    }

    // MARK: Helpers

    static func host(of url: String) -> String? {
        guard let scheme = url.firstRange(of: "://") else { return nil }
        var authority = url[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        return String(authority.prefix { $0 != ":" })
    }

    static func port(of url: String) -> Int? {
        guard let scheme = url.firstRange(of: "://") else { return nil }
        let authority = url[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") else { return nil }
        return Int(authority[authority.index(after: colon)...])
    }

    static func read(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingWhitespace
    }

    static func tool(_ name: String) -> String? {
        for directory in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
            return "\(directory)/\(name)"
        }
        return nil
    }

    static func shellQuote(_ text: String) -> String { "'" + text.replacing("'", with: "'\\''") + "'" }

    /// Runs a tool with a time limit; its standard output (at most 1 MiB), or nil when it could not start.
    static func runTool(_ executable: String, _ arguments: [String], timeout: Duration) -> String? {
        guard let outcome = try? ChildProcess.run(executable, arguments, timeout: timeout) else { return nil }
        return String(decoding: outcome.output, as: UTF8.self)
    }

    static func userName(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return String(cString: name)
    }

    static func groupName(_ gid: gid_t) -> String {
        guard let entry = getgrgid(gid), let name = entry.pointee.gr_name else { return "gid \(gid)" }
        return String(cString: name)
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
