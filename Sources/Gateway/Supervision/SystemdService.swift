import Logging
import ServiceLifecycle

/// The gateway's side of `Type=notify`: watchdog pings while the main loop makes progress, and
/// `STOPPING=1` when the graceful shutdown starts. Placed last in the group, so it hears the
/// shutdown first. `READY=1` is sent by the gateway once the local API listens.
struct SystemdService: Service {
    let notifier: SystemdNotifier
    let watchdog: WatchdogRequest?
    let heartbeat: Heartbeat
    /// Asks the main loop to run once (the mapping stage's wake-up), so that an idle but healthy
    /// loop beats within every ping interval.
    let poke: @Sendable () -> Void
    let sleep: @Sendable (Duration) async throws -> Void
    let logger: Logger

    func run() async throws {
        if let watchdog {
            await cancelWhenGracefulShutdown {
                var gate = WatchdogGate(startingAt: heartbeat.count)
                var stalled = false
                while !Task.isCancelled {
                    poke()
                    do { try await sleep(watchdog.pingInterval) } catch { break }
                    if gate.shouldPing(count: heartbeat.count) {
                        if stalled { logger.notice("Main loop is making progress again; watchdog pings resumed") }
                        stalled = false
                        notifier.send("WATCHDOG=1")
                    } else if !stalled {
                        // No ping: if the loop stays stuck, the service manager restarts the gateway.
                        stalled = true
                        logger.error("Main loop made no progress within the watchdog interval; withholding the watchdog ping",
                                     metadata: ["edge.watchdog.interval": "\(watchdog.pingInterval)"])
                    }
                }
            }
        } else {
            try? await gracefulShutdown()
        }
        notifier.send("STOPPING=1")
    }
}
