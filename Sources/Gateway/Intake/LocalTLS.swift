import FoundationEssentials
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import EdgeCore
import EdgeSystem
import UnixSignals

/// The local API's TLS: the certificate and key files of `http.tls`, loaded into a context that
/// SIGHUP replaces (a renewed certificate takes effect for new connections without a restart;
/// a reload that fails keeps the previous context). With `clientCA`, devices must present a
/// certificate that CA signed.
final class LocalTLS: Sendable {
    let settings: GatewayConfiguration.TLS
    private let context: Locked<NIOSSLContext>

    init(_ settings: GatewayConfiguration.TLS) throws(LocalTLSError) {
        self.settings = settings
        self.context = Locked(try Self.makeContext(settings))
    }

    var current: NIOSSLContext { context.withLock { $0 } }

    /// Reads the files again; on success new connections use them.
    func reload() throws(LocalTLSError) {
        let fresh = try Self.makeContext(settings)
        context.withLock { $0 = fresh }
    }

    static func makeContext(_ settings: GatewayConfiguration.TLS) throws(LocalTLSError) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(settings.certificatePath)
        } catch {
            throw LocalTLSError("http.tls.certificate: cannot read a PEM certificate from \(settings.certificatePath) (\(error))")
        }
        guard !chain.isEmpty else { throw LocalTLSError("http.tls.certificate: \(settings.certificatePath) holds no certificate") }
        if let mode = FileStatus(path: settings.keyPath)?.permissions,
           mode & 0o007 != 0 {
            throw LocalTLSError("http.tls.key: \(settings.keyPath) is readable by every user (mode \(String(mode & 0o777, radix: 8))); chmod 600 it")
        }
        do {
            key = try NIOSSLPrivateKey(file: settings.keyPath, format: .pem)
        } catch {
            throw LocalTLSError("http.tls.key: cannot read a PEM private key from \(settings.keyPath) (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCA = settings.clientCAPath {
            configuration.trustRoots = .file(clientCA)
            configuration.certificateVerification = .noHostnameVerification
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw LocalTLSError("http.tls: the certificate and key do not make a TLS context (\(error)); check that the key belongs to the certificate")
        }
    }
}

struct LocalTLSError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// HTTP/1.1 behind TLS whose context is read per connection, so that a reload applies to every
/// connection accepted after it.
struct ReloadableTLSChannel<Base: ServerChildChannel & HTTPChannelHandler>: ServerChildChannel, HTTPChannelHandler {
    typealias Value = Base.Value
    let base: Base
    let tls: LocalTLS

    var responder: HTTPChannelHandler.Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = tls.current
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Base.Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Reloads the local API's certificate and key on SIGHUP (a renewal by certbot or the clinic's
/// PKI), logging the outcome; a failed reload keeps serving the previous certificate.
struct TLSReloadService: Service {
    let tls: LocalTLS
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            for await _ in signals.cancelOnGracefulShutdown() {
                do {
                    try tls.reload()
                    logger.notice("Reloaded the local API's TLS certificate", metadata: ["edge.tls.certificate": "\(tls.settings.certificatePath)"])
                } catch {
                    logger.error("Could not reload the local API's TLS certificate; the previous one stays in use",
                                 metadata: ["edge.tls.error": "\(error)"])
                }
            }
        } onGracefulShutdown: {}
    }
}
