import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The service manager's notification socket (`sd_notify(3)`): one datagram per state change on
/// the AF_UNIX socket named by `$NOTIFY_SOCKET`, written here so that no libsystemd is linked.
/// A path starting with `@` names an abstract socket.
package struct SystemdNotifier: Sendable {
    package let socketPath: String

    /// The notifier for this process, or nil when it was not started by a service manager that
    /// listens (no `NOTIFY_SOCKET`, or one that is not an absolute path or abstract name).
    package init?(environment: [String: String]) {
        guard let path = environment["NOTIFY_SOCKET"], path.hasPrefix("/") || path.hasPrefix("@"), path.utf8.count > 1 else {
            return nil
        }
        self.socketPath = path
    }

    /// Sends `state` (newline-separated `KEY=VALUE` lines, e.g. `READY=1`). Failures are
    /// reported, not thrown: a lost notification must not stop the gateway.
    @discardableResult
    package func send(_ state: String) -> NotifyError? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        // An abstract name has a NUL where its leading `@` stands, and no terminating NUL.
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return NotifyError(message: "NOTIFY_SOCKET is longer than a socket path may be", errno: 0) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count + (abstract ? 0 : 1))
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return NotifyError(message: "cannot open a datagram socket for NOTIFY_SOCKET", errno: errno) }
        defer { close(descriptor) }
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { buffer in
                    sendto(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), socketAddress, length)
                }
            }
        }
        guard sent == bytes.count else { return NotifyError(message: "cannot send to NOTIFY_SOCKET \(socketPath)", errno: errno) }
        return nil
    }

    package struct NotifyError: Error, CustomStringConvertible, Sendable {
        package var message: String
        package var errno: Int32
        package var description: String { errno == 0 ? message : "\(message): \(String(cString: strerror(errno)))" }
    }
}

/// The watchdog the service manager asked for (`sd_watchdog_enabled(3)`): `WATCHDOG_USEC`, for
/// this process when `WATCHDOG_PID` names it or is absent.
package struct WatchdogRequest: Sendable, Equatable {
    /// The manager restarts the service when no `WATCHDOG=1` arrives within this time.
    package let timeout: Duration

    package init?(environment: [String: String], processID: Int32) {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text), microseconds > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], Int32(owner) != processID { return nil }
        self.timeout = .microseconds(microseconds)
    }

    /// Pings go out at half the timeout, so that one late ping is not yet a restart.
    package var pingInterval: Duration { timeout / 2 }
}

/// What the service manager that started the gateway asked for: where to notify, and the watchdog.
package struct ServiceManager: Sendable {
    package let notifier: SystemdNotifier
    package let watchdog: WatchdogRequest?
    /// The wait between watchdog checks (a test passes one that needs no clock).
    let sleep: @Sendable (Duration) async throws -> Void

    package init(notifier: SystemdNotifier, watchdog: WatchdogRequest?) {
        self.init(notifier: notifier, watchdog: watchdog, sleep: { try await Task.sleep(for: $0) })
    }

    init(notifier: SystemdNotifier, watchdog: WatchdogRequest?, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.notifier = notifier
        self.watchdog = watchdog
        self.sleep = sleep
    }

    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`; nil when no manager listens.
    package static func fromEnvironment(_ environment: [String: String], processID: Int32) -> ServiceManager? {
        guard let notifier = SystemdNotifier(environment: environment) else { return nil }
        return ServiceManager(notifier: notifier, watchdog: WatchdogRequest(environment: environment, processID: processID))
    }
}
