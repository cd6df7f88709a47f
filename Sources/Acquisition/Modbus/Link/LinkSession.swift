import EdgeCore
import CModbus

#if canImport(Glibc)
import Glibc
#endif

/// The libmodbus context of one link and what is known about its state. Lives on the link's own
/// thread only (`LinkThread`): libmodbus contexts are not thread-safe and every call blocks.
final class LinkSession {
    let endpoint: ModbusEndpoint
    let options: LibmodbusLink.Options
    private var context: OpaquePointer?
    private var connected = false
    /// RTU: units whose late reply may still come, and until when.
    private var lateReplyDeadlines: [UInt8: ContinuousClock.Instant] = [:]
    private var lastRequestEnd: ContinuousClock.Instant?
    private let clock = ContinuousClock()
    private(set) var counters = LibmodbusLink.Counters()

    init(endpoint: ModbusEndpoint, options: LibmodbusLink.Options) {
        self.endpoint = endpoint
        self.options = options
    }

    private var serial: Bool {
        if case .rtu = endpoint { return true }
        return false
    }

    /// Closes the connection and frees the context; the next read starts afresh.
    func release() {
        if let context {
            if connected { modbus_close(context) }
            modbus_free(context)
        }
        context = nil
        connected = false
        lateReplyDeadlines = [:]
    }

    func read(_ request: ModbusReadRequest, timeout: Duration) -> Result<ModbusReply, ModbusError> {
        if let problem = Self.problem(with: request, serial: serial) {
            return .failure(ModbusError(.invalidRequest, "\(endpoint) \(request): \(problem)"))
        }
        pauseBetweenRequests()
        defer { lastRequestEnd = clock.now }
        let first = attempt(request, timeout: timeout)
        // A connection that was idle may have been closed by a restarted server: reads change
        // nothing, so one more try on a fresh connection hides that from the poller.
        if case .failure(let failure) = first, failure.reused, failure.error.kind == .connection {
            counters.retriesOnNewConnection += 1
            return attempt(request, timeout: timeout).mapError(\.error)
        }
        return first.mapError(\.error)
    }

    private struct AttemptFailure: Error {
        var error: ModbusError
        /// The request went out on a connection opened before it.
        var reused: Bool
    }

    private func attempt(_ request: ModbusReadRequest, timeout: Duration) -> Result<ModbusReply, AttemptFailure> {
        restoreStep(before: request)
        let reused = connected
        let context: OpaquePointer
        switch open(timeout: timeout, unit: request.unit) {
        case .success(let opened): context = opened
        case .failure(let error): return .failure(AttemptFailure(error: error, reused: false))
        }
        var code: Int32 = 0
        let responseMicros = Self.microseconds(timeout)
        let byteMicros = Self.microseconds(options.byteTimeout ?? timeout)
        if cmb_set_slave(context, Int32(request.unit), &code) == -1 || cmb_set_timeouts(context, responseMicros, byteMicros, &code) == -1 {
            return .failure(AttemptFailure(error: ModbusError(.invalidRequest, "\(endpoint) \(request): \(errorText(code))"), reused: reused))
        }
        let count = Int(request.count)
        let reply: ModbusReply
        let rc: Int32
        if request.table.holdsWords {
            var words = [UInt16](repeating: 0, count: count)
            rc = words.withUnsafeMutableBufferPointer { buffer in
                request.table == .holding
                    ? cmb_read_registers(context, Int32(request.address), Int32(count), buffer.baseAddress, &code)
                    : cmb_read_input_registers(context, Int32(request.address), Int32(count), buffer.baseAddress, &code)
            }
            reply = .registers(words)
        } else {
            var bits = [UInt8](repeating: 0, count: count)
            rc = bits.withUnsafeMutableBufferPointer { buffer in
                request.table == .coil
                    ? cmb_read_bits(context, Int32(request.address), Int32(count), buffer.baseAddress, &code)
                    : cmb_read_input_bits(context, Int32(request.address), Int32(count), buffer.baseAddress, &code)
            }
            reply = .bits(bits.map { $0 != 0 })
        }
        if rc == Int32(count) { return .success(reply) }
        if rc >= 0 {
            // A short but well-formed reply: treat as out of step like any reply that does not fit.
            code = CMB_EMBBADDATA
        }
        let failure = LinkFailure.classify(code: code, serial: serial)
        enterRecovery(failure.recovery, unit: request.unit, timeout: timeout)
        var cause = failure.cause
        if failure.kind == .timeout { cause += " after \(Self.milliseconds(timeout)) ms" }
        return .failure(AttemptFailure(error: ModbusError(failure.kind, "\(endpoint) \(request): \(cause)"), reused: reused))
    }

    /// A connected context, creating and connecting it when needed.
    private func open(timeout: Duration, unit: UInt8) -> Result<OpaquePointer, ModbusError> {
        if let context, connected { return .success(context) }
        var code: Int32 = 0
        let context: OpaquePointer
        if let existing = self.context {
            context = existing
        } else {
            let created: OpaquePointer?
            switch endpoint {
            case .tcp(let host, let port):
                created = cmb_new_tcp(host, String(port), &code)
            case .rtu(let line):
                if let problem = line.problem { return .failure(ModbusError(.invalidRequest, "\(endpoint): \(problem)")) }
                let parity = CChar(UInt8(ascii: line.parity.rawValue.unicodeScalars.first ?? "N"))
                created = cmb_new_rtu(line.device, Int32(line.baud), parity, Int32(line.dataBits), Int32(line.stopBits), &code)
            }
            guard let created else {
                return .failure(ModbusError(.invalidRequest, "\(endpoint): cannot create a libmodbus context: \(errorText(code))"))
            }
            // An RTU context without a unit id aborts the process on its first request.
            _ = cmb_set_slave(created, Int32(max(1, min(247, Int(unit)))), &code)
            // Errors come back to us; libmodbus' own link recovery would block for a whole outage.
            _ = modbus_set_error_recovery(created, MODBUS_ERROR_RECOVERY_NONE)
            context = created
            self.context = created
        }
        // TCP connects are bounded by the response timeout.
        let micros = Self.microseconds(timeout)
        _ = cmb_set_timeouts(context, micros, micros, &code)
        counters.connects += 1
        if cmb_connect(context, &code) == -1 {
            let cause = code == ETIMEDOUT ? "timeout after \(Self.milliseconds(timeout)) ms" : errorText(code)
            return .failure(ModbusError(.connection, "\(endpoint): connect failed: \(cause)"))
        }
        connected = true
        if serial {
            // A reply meant for a previous user of the line may still sit in the buffer.
            _ = modbus_flush(context)
        }
        return .success(context)
    }

    private func enterRecovery(_ next: LinkRecovery, unit: UInt8, timeout: Duration) {
        switch next {
        case .none:
            break
        case .reconnect:
            counters.reconnects += 1
            closeConnection()
        case .resync:
            counters.resyncs += 1
            lateReplyDeadlines[unit] = clock.now.advanced(by: options.resyncDelay ?? timeout)
        }
    }

    /// Before a request while a late RTU reply may still come: a request to the same unit waits
    /// until it would have come and discards it, since only that unit's reply could pass for the
    /// answer. Requests to other units go ahead at once after discarding what has arrived: a late
    /// frame from another unit fails libmodbus' unit check (a bad reply, never wrong values), so a
    /// silent unit costs its neighbours on the bus no more than its own timeout.
    private func restoreStep(before request: ModbusReadRequest) {
        guard !lateReplyDeadlines.isEmpty else { return }
        if let deadline = lateReplyDeadlines[request.unit] { clock.sleepThread(until: deadline) }
        if let context, connected { _ = modbus_flush(context) }
        let now = clock.now
        lateReplyDeadlines = lateReplyDeadlines.filter { $0.value > now }
    }

    private func closeConnection() {
        if let context, connected { modbus_close(context) }
        connected = false
        lateReplyDeadlines = [:]
    }

    private func pauseBetweenRequests() {
        guard options.interRequestDelay > .zero, let lastRequestEnd else { return }
        clock.sleepThread(until: lastRequestEnd.advanced(by: options.interRequestDelay))
    }

    static func problem(with request: ModbusReadRequest, serial: Bool) -> String? {
        let limit = request.table.holdsWords ? Int(MODBUS_MAX_READ_REGISTERS) : Int(MODBUS_MAX_READ_BITS)
        let noun = request.table.holdsWords ? "registers" : "bits"
        if request.count == 0 || Int(request.count) > limit { return "count must be 1 to \(limit) \(noun), not \(request.count)" }
        if Int(request.address) + Int(request.count) > 65536 { return "address \(request.address) + count \(request.count) passes the end of the table (65536)" }
        if serial && request.unit > 247 { return "RTU unit ids are 0 to 247, not \(request.unit)" }
        return nil
    }

    static func microseconds(_ duration: Duration) -> UInt32 {
        UInt32(clamping: max(1000, min(duration.wholeMicroseconds, 3_600_000_000)))
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.wholeMilliseconds
    }
}

extension ContinuousClock {
    /// Blocks the calling (dedicated) thread until `deadline`.
    func sleepThread(until deadline: Instant) {
        let remaining = now.duration(to: deadline)
        guard remaining > .zero else { return }
        let (seconds, attoseconds) = remaining.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var left = timespec()
        while nanosleep(&request, &left) == -1 && errno == EINTR { request = left }
    }
}
