import Modbus
import EdgeCore
import TestSupport

/// A scripted link: each unit answers from its registers, stays silent (costing the timeout on
/// the test's clock), or answers exceptions; every request is recorded with the clock's time.
final class FakeModbusLink: ModbusLink, Sendable {
    enum Behaviour: Sendable {
        case answers
        case silent
        /// Fails this many requests with `error`, then answers.
        case fails(ModbusError, times: Int)
    }

    struct Sent: Sendable, Equatable {
        var request: ModbusReadRequest
        var at: Duration
    }

    private struct State {
        var behaviours: [UInt8: Behaviour] = [:]
        /// Exceptions by (unit, table, address) for requests that cover the address.
        var exceptions: [(UInt8, ModbusTable, UInt16, ModbusException)] = []
        var registers: [UInt8: [UInt16: UInt16]] = [:]
        var sent: [Sent] = []
        var closes = 0
    }

    let endpoint: String
    let clock: ManualClock
    private let state = Locked(State())

    init(endpoint: String, clock: ManualClock) {
        self.endpoint = endpoint
        self.clock = clock
    }

    func set(unit: UInt8, _ behaviour: Behaviour) { state.withLock { $0.behaviours[unit] = behaviour } }
    func set(unit: UInt8, register: UInt16, _ value: UInt16) { state.withLock { $0.registers[unit, default: [:]][register] = value } }
    func exception(unit: UInt8, table: ModbusTable, address: UInt16, _ exception: ModbusException) {
        state.withLock { $0.exceptions.append((unit, table, address, exception)) }
    }

    var sent: [Sent] { state.withLock { $0.sent } }
    var closes: Int { state.withLock { $0.closes } }

    func read(_ request: ModbusReadRequest, timeout: Duration) async throws(ModbusError) -> ModbusReply {
        let now = clock.now.offset
        let (behaviour, exception, registers): (Behaviour, ModbusException?, [UInt16: UInt16]) = state.withLock { state in
            state.sent.append(Sent(request: request, at: now))
            var behaviour = state.behaviours[request.unit] ?? .answers
            if case .fails(let error, let times) = behaviour, times > 0 {
                state.behaviours[request.unit] = times > 1 ? .fails(error, times: times - 1) : .answers
            } else if case .fails = behaviour {
                behaviour = .answers
            }
            let range = Int(request.address)..<(Int(request.address) + Int(request.count))
            let exception = state.exceptions.first { $0.0 == request.unit && $0.1 == request.table && range.contains(Int($0.2)) }?.3
            return (behaviour, exception, state.registers[request.unit] ?? [:])
        }
        switch behaviour {
        case .silent:
            do { try await clock.sleep(for: timeout) } catch { throw ModbusError(.connection, "\(endpoint): cancelled") }
            throw ModbusError(.timeout, "\(endpoint): \(request): timeout")
        case .fails(let error, _):
            throw error
        case .answers:
            if let exception { throw ModbusError(.exception(exception), "\(endpoint): \(request): \(exception)") }
            if request.table.holdsWords {
                return .registers((0..<request.count).map { registers[request.address + $0] ?? request.address + $0 })
            }
            return .bits((0..<request.count).map { (registers[request.address + $0] ?? 0) != 0 })
        }
    }

    func close() async { state.withLock { $0.closes += 1 } }
}
