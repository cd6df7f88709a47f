import Logging
import ServiceLifecycle
import EdgeCore
import Upstream

/// Runs the uploader as a Service; graceful shutdown cancels it, which aborts the request in
/// flight and hands its resources back to the outbox (they are sent again on the next start).
struct UploaderService: Service {
    let uploader: Uploader

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await uploader.run()
        }
    }
}

/// The running uploader, once `Gateway.run` has made it, for `/metrics`.
final class UploaderSlot: Sendable {
    private let current = Locked<Uploader?>(nil)

    func set(_ uploader: Uploader?) {
        current.withLock { $0 = uploader }
    }

    var uploader: Uploader? { current.withLock { $0 } }

    /// New resources are in the outbox.
    func wake() {
        uploader?.wake()
    }
}
