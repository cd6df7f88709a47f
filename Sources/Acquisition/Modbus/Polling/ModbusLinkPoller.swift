package import EdgeCore
import JSONQuery

/// Polls the devices of one link (a TCP endpoint or an RS-485 bus) on their own schedules.
///
/// Requests on a link are served one at a time, so one poller runs per link and links never wait
/// for each other. Within a link, a request that times out ends that device's poll (its other
/// requests would time out too), so a silent unit costs at most one timeout per poll; a device
/// that is down gets no retries and backs off (see `PollSchedule`).
package struct ModbusLinkPoller<C: Clock>: Sendable where C.Duration == Duration {
    package let link: any ModbusLink
    package let devices: [ModbusDevice]
    let clock: C
    let wallClock: @Sendable () -> Timestamp
    let onPoll: @Sendable (ModbusPollResult) async -> Void

    /// - Parameters:
    ///   - clock: paces polls, inter-request delays and backoff.
    ///   - wallClock: the `time` of each message (when its poll started).
    ///   - onPoll: receives every poll's result, in order, before the link moves on.
    package init(
        link: any ModbusLink, devices: [ModbusDevice], clock: C, wallClock: @escaping @Sendable () -> Timestamp,
        onPoll: @escaping @Sendable (ModbusPollResult) async -> Void
    ) {
        self.link = link
        self.devices = devices
        self.clock = clock
        self.wallClock = wallClock
        self.onPoll = onPoll
    }

    /// Polls until the task is cancelled, then closes the link.
    package func run() async {
        let start = clock.now
        var schedule = PollSchedule(intervals: devices.map(\.settings.interval))
        while !Task.isCancelled, let (index, due) = schedule.next() {
            do {
                try await clock.sleep(until: start.advanced(by: due), tolerance: nil)
            } catch {
                break
            }
            var result = await poll(devices[index], retrying: schedule.isHealthy(index))
            result.skippedPolls = schedule.slots[index].skipped
            // Cut short by shutdown: not a reading, and not the device's fault.
            if result.interrupted { break }
            await onPoll(result)
            schedule.finished(index, at: start.duration(to: clock.now), succeeded: result.message != nil)
        }
        await link.close()
    }

    /// One poll of `device`: its planned requests in order; a garbled reply, a dropped connection or a
    /// busy answer is retried `settings.retries` times when `retrying`. A timeout or a connection failure ends the poll; an exception response
    /// fails only the points of its request.
    package func poll(_ device: ModbusDevice, retrying: Bool = true) async -> ModbusPollResult {
        let started = clock.now
        let startedAt = wallClock()
        var values: [Int: RegisterValue] = [:]
        var errors: [Int: String] = [:]
        var failures: [ModbusReadFailure] = []
        var requests = 0
        var retries = 0
        var registers = 0
        var succeededAny = false
        var interrupted = false
        let attempts = 1 + (retrying ? max(device.settings.retries, 0) : 0)
        reads: for (position, read) in device.plan.reads.enumerated() {
            if position > 0, device.settings.interRequestDelay > .zero {
                try? await clock.sleep(for: device.settings.interRequestDelay)
            }
            var lastError: ModbusError?
            for attempt in 1...attempts {
                if Task.isCancelled {
                    interrupted = true
                    break reads
                }
                requests += 1
                if attempt > 1 { retries += 1 }
                do {
                    let reply = try await link.read(read.request, timeout: device.settings.timeout)
                    ModbusMessage.decode(read, reply: reply, points: device.points, into: &values, errors: &errors)
                    registers += Int(read.request.count)
                    succeededAny = true
                    lastError = nil
                    break
                } catch {
                    lastError = error
                    if error.kind == .connection || error.kind == .badReply { await link.close() }
                    guard attempt < attempts, Self.isTransient(error) else { break }
                }
            }
            guard let error = lastError else { continue }
            let names = read.placements.map { device.points[$0.point].name }
            failures.append(ModbusReadFailure(request: read.request, error: error, points: names))
            for placement in read.placements { errors[placement.point] = ModbusPollResult.name(of: error) }
            if error.kind == .timeout || error.kind == .connection { break reads }
        }
        // A request that failed because shutdown cancelled it says nothing about the device.
        if Task.isCancelled, !failures.isEmpty { interrupted = true }
        // Not a ternary: JSONValue is ExpressibleByNilLiteral, so `nil` there would become JSON null.
        var message: JSONValue?
        if succeededAny { message = ModbusMessage.build(device: device, time: startedAt, values: values, errors: errors) }
        return ModbusPollResult(
            device: device, startedAt: startedAt, message: message, failures: failures, requests: requests,
            registers: registers, elapsed: started.duration(to: clock.now), interrupted: interrupted, retries: retries)
    }

    /// Worth another attempt in the same poll: a garbled reply, a dropped connection, a busy device.
    /// Not a timeout: on a shared bus another wait would double what a dead unit costs its
    /// neighbours; the next poll is its retry.
    static func isTransient(_ error: ModbusError) -> Bool {
        switch error.kind {
        case .badReply, .connection: true
        case .timeout: false
        case .exception(let exception): exception == .serverDeviceBusy || exception == .acknowledge
        case .invalidRequest: false
        }
    }
}
