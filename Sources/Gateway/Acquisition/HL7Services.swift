import EdgeCore
import FoundationEssentials
import HL7
import Logging
import MLLP
import NIOCore
import ServiceLifecycle

extension Gateway {
    /// The MLLP listener of `hl7:`, when configured. TLS files are read here, so that a bad
    /// certificate stops the start with a clear error.
    func hl7Services() throws -> [any Service] {
        guard let section = configuration.hl7 else { return [] }
        var settings = MLLPListenerSettings(
            host: section.listen.host, port: section.listen.port, idleTimeout: .milliseconds(section.idleTimeoutMilliseconds),
            frameTimeout: .milliseconds(section.frameTimeoutMilliseconds), maxConnections: section.maxConnections)
        if let tls = section.tls {
            do {
                settings.tls = try LocalTLS.makeContext(tls)
            } catch {
                throw LocalTLSError(error.description.replacing("http.tls", with: "hl7.tls"))
            }
        }
        let controlIDs = ACKControlIDs(startedAt: now())
        let intake = MLLPIntake(
            profile: ProfileID(section.profile), allowedFacilities: section.allowedFacilities, maxMessageBytes: section.maxMessageBytes,
            sink: intakeSink, now: now, nextControlID: { controlIDs.next() })
        return [MLLPService(settings: settings, intake: intake, metrics: mllpMetrics, health: acquisitionHealth, now: now, logger: logger)]
    }
}

/// MSH-10 of the ACKs: unique per process start and counter, within v2.5's 20 characters.
final class ACKControlIDs: Sendable {
    private let prefix: String
    private let counter = Locked<UInt64>(0)

    init(startedAt: Timestamp) {
        prefix = "FE" + String(UInt64(max(0, startedAt.millisecondsSinceEpoch)), radix: 36).uppercased()
    }

    func next() -> String {
        let n = counter.withLock { $0 += 1; return $0 }
        return prefix + "-" + String(n)
    }
}

/// Binds the MLLP listener and serves until graceful shutdown; each message's outcome goes to the
/// per-source health (`mllp:<MSH-4>` on `/status`, journaled when a source goes up or down).
struct MLLPService: Service {
    let settings: MLLPListenerSettings
    let intake: MLLPIntake
    let metrics: MLLPMetrics
    let health: AcquisitionHealth
    let now: @Sendable () -> Timestamp
    let logger: Logger

    func run() async throws {
        let health = self.health, now = self.now, profile = intake.profile, logger = self.logger
        let listener = try await MLLPListener.bind(settings, intake: intake, metrics: metrics) { outcome, _ in
            if outcome.code == .accept {
                await health.recordSuccess(transport: .mllp, device: outcome.facility, profile: profile, readings: outcome.observations, at: now())
            } else {
                logger.warning("HL7 message not taken", metadata: [
                    "edge.mllp.facility": "\(outcome.facility)", "edge.mllp.ack": "\(outcome.code.rawValue)", "edge.mllp.error": "\(outcome.error ?? "")",
                ])
                await health.recordFailure(
                    transport: .mllp, device: outcome.facility, profile: profile, error: outcome.error ?? outcome.code.rawValue, at: now())
            }
        }
        logger.info("MLLP listening", metadata: [
            "edge.mllp.host": "\(settings.host)", "edge.mllp.port": "\(listener.localPort)", "edge.mllp.profile": "\(profile)",
            "edge.mllp.tls": "\(settings.tls != nil)",
        ])
        await cancelWhenGracefulShutdown {
            await listener.run()
        }
    }
}
