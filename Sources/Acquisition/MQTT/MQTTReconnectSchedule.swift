package import EdgeCore

/// When to connect again: `ReconnectBackoff` over the failures since the last accepted CONNECT,
/// with its jitter drawn from an injected generator (a seed), so that tests can replay it and a
/// room of gateways that lost one broker does not come back in lockstep.
package struct MQTTReconnectSchedule: Sendable {
    package let backoff: ReconnectBackoff
    package private(set) var consecutiveFailures = 0
    private var random: SplitMix64

    package init(backoff: ReconnectBackoff, seed: UInt64) {
        self.backoff = backoff
        self.random = SplitMix64(seed: seed)
    }

    /// The broker accepted the CONNECT: the next failure waits the shortest time again.
    package mutating func connected() {
        consecutiveFailures = 0
    }

    /// A connect attempt failed or a connection ended: how long to wait before the next attempt.
    package mutating func failed() -> Duration {
        consecutiveFailures += 1
        return backoff.delay(failures: consecutiveFailures, using: &random)
    }
}
