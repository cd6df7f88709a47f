package import BluetoothDecoding
package import EdgeCore
package import JSONQuery

/// How one device session behaves.
package struct DeviceSessionSettings: Sendable, Equatable {
    /// The device's address; written `F0-00-00-00-18-0D` (`eui48`), it is the device id in messages.
    package var address: BluetoothAddress
    /// Secure the link (pair and bond, or re-encrypt with the bond) before discovery.
    package var requiresPairing: Bool
    package var backoff: ReconnectBackoff
    /// How long one connection attempt may take (the device may not be advertising).
    package var connectTimeout: Duration
    /// How far, in seconds either way, the device's clock (its Current Time, read on connect) may
    /// be from the gateway's before device-timed readings are corrected by the offset.
    package var clockToleranceSeconds: Int

    package init(
        address: BluetoothAddress, requiresPairing: Bool = false,
        backoff: ReconnectBackoff = ReconnectBackoff(), connectTimeout: Duration = .seconds(10),
        clockToleranceSeconds: Int = 60
    ) {
        self.address = address
        self.requiresPairing = requiresPairing
        self.backoff = backoff
        self.connectTimeout = connectTimeout
        self.clockToleranceSeconds = clockToleranceSeconds
    }
}

/// One decoded value of a measurement characteristic.
package struct DeviceReading: Sendable {
    package var address: BluetoothAddress
    package var reading: HealthReading
    /// When the gateway received it (the message's time when the device sends none).
    package var receivedAt: Timestamp
    /// What the device's Device Information Service said on this link, if it serves one.
    package var device: DeviceInformation?
    /// The device clock's check on this link, when the device serves a Current Time it knows.
    package var clock: DeviceClock?

    package init(
        address: BluetoothAddress, reading: HealthReading, receivedAt: Timestamp, device: DeviceInformation? = nil,
        clock: DeviceClock? = nil
    ) {
        self.address = address
        self.reading = reading
        self.receivedAt = receivedAt
        self.device = device
        self.clock = clock
    }

    /// The JSON device message the profile's templates read.
    package var message: JSONValue {
        reading.message(deviceID: address.eui48, receivedAt: receivedAt, device: device, clock: clock)
    }
}

/// What a session reports about its device, for health (`/status`, metrics, the journal) and logs.
package enum SessionObservation: Sendable, Equatable {
    /// Connected and subscribed to these characteristics.
    case up([MeasurementCharacteristic])
    /// A link failed or a value could not be decoded or delivered; the session carries on.
    case failure(SessionFailure)
    /// A receiving link ended.
    case disconnected(reason: UInt8)
}

/// One device, kept connected: an actor that runs `DeviceSessionStateMachine` against the host
/// stack, decodes each value and hands it to `deliver` before taking the next one.
package actor DeviceSession {
    package let settings: DeviceSessionSettings
    private let link: any DeviceLink
    private let deliver: @Sendable (DeviceReading) async throws -> Void
    private let observe: @Sendable (SessionObservation) async -> Void
    private let sleep: @Sendable (Duration) async throws -> Void
    private let now: @Sendable () -> Timestamp
    private var machine: DeviceSessionStateMachine
    private var connection: (any DeviceConnection)?
    /// Counts links, so that events of an old link are told from the current one's.
    private var generation = 0
    private var characteristics: [UInt16: MeasurementCharacteristic] = [:]
    /// The Device Information Service's strings, read on each link after discovery.
    private var deviceInformation: DeviceInformation?
    /// The device clock against the gateway's, checked on each link after the Device Information.
    private var clock: DeviceClock?
    private var pending: [DeviceSessionStateMachine.Event] = []

    /// - Parameters:
    ///   - deliver: makes a reading durable; an indicated one is confirmed to the device only when
    ///     this returns. When it throws, the link is closed (the device keeps what was not
    ///     confirmed) and the session reconnects after the backoff.
    ///   - observe: health and log reports, in order.
    ///   - sleep: the reconnect wait (a test clock in tests).
    ///   - seed: seeds the backoff jitter.
    package init(
        settings: DeviceSessionSettings, link: any DeviceLink, seed: UInt64,
        now: @escaping @Sendable () -> Timestamp,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        deliver: @escaping @Sendable (DeviceReading) async throws -> Void,
        observe: @escaping @Sendable (SessionObservation) async -> Void
    ) {
        self.settings = settings
        self.link = link
        self.now = now
        self.sleep = sleep
        self.deliver = deliver
        self.observe = observe
        self.machine = DeviceSessionStateMachine(requiresSecurity: settings.requiresPairing, backoff: settings.backoff, seed: seed)
    }

    package var state: DeviceSessionStateMachine.State { machine.state }

    private enum Input: Sendable {
        case event(DeviceSessionStateMachine.Event)
        case connection(ConnectionEvent, generation: Int)
        case connectionEnded(generation: Int)
        case reconnectDue(generation: Int)
    }

    /// Runs until the task is cancelled, then closes the link.
    package func run() async {
        let (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
        continuation.yield(.event(.start))
        await withDiscardingTaskGroup { group in
            // Iteration ends when the task is cancelled; the link is closed below.
            for await input in inputs {
                await handle(input, group: &group, continuation: continuation)
            }
            if machine.state != .stopped {
                await handle(.event(.stop), group: &group, continuation: continuation)
            }
            continuation.finish()
            group.cancelAll()
        }
    }

    private func handle(
        _ input: Input, group: inout DiscardingTaskGroup, continuation: AsyncStream<Input>.Continuation
    ) async {
        switch input {
        case .event(let event):
            pending.append(event)
        case .connection(.notification(let handle, let bytes), let link) where link == generation:
            _ = await receive(handle: handle, bytes: bytes)
        case .connection(.indication(let handle, let bytes), let link) where link == generation:
            // Confirmed only once durable: a device deletes a confirmed reading, so one lost
            // between here and the inbox would be lost for good. Refused, it stays unconfirmed
            // and the link closes; the device sends it again on the next link.
            if await receive(handle: handle, bytes: bytes) { await connection?.confirmIndication() }
        case .connection(.disconnected(let reason), let link) where link == generation:
            connection = nil
            pending.append(.disconnected(reason: reason))
        case .connectionEnded(let link) where link == generation && connection != nil:
            // The stack ended the events without saying why: the link is gone all the same.
            connection = nil
            pending.append(.disconnected(reason: 0x16))
        case .reconnectDue(let link) where link == generation:
            pending.append(.reconnectDue)
        default:
            return
        }
        while !pending.isEmpty {
            let event = pending.removeFirst()
            for action in machine.handle(event) {
                await perform(action, group: &group, continuation: continuation)
            }
        }
    }

    private func perform(
        _ action: DeviceSessionStateMachine.Action, group: inout DiscardingTaskGroup,
        continuation: AsyncStream<Input>.Continuation
    ) async {
        switch action {
        case .connect:
            do {
                let opened = try await link.connect(timeout: settings.connectTimeout)
                generation += 1
                connection = opened
                let link = generation
                group.addTask {
                    await withDiscardingTaskGroup { alongside in
                        alongside.addTask { await opened.serve() }
                        for await event in opened.events { continuation.yield(.connection(event, generation: link)) }
                    }
                    continuation.yield(.connectionEnded(generation: link))
                }
                pending.append(.connected)
            } catch {
                pending.append(.connectFailed(Self.failure(error, stage: .connect)))
            }
        case .secure:
            await request(.secure) { try await $0.secure() } then: { .secured }
        case .discover:
            guard let connection else { return }
            do {
                let found = try await connection.discoverMeasurements()
                characteristics = Dictionary(found.map { ($0.valueHandle, $0) }, uniquingKeysWith: { first, _ in first })
                // Optional: a device without the service, or one that refuses a read, still measures.
                deviceInformation = await connection.readDeviceInformation()
                clock = await checkClock(connection)
                pending.append(.discovered(found))
            } catch {
                pending.append(.failed(Self.failure(error, stage: .discover)))
            }
        case .subscribe(let characteristic):
            await request(.subscribe) { try await $0.subscribe(characteristic) } then: { .subscribed(characteristic) }
        case .disconnect:
            if let connection { await connection.disconnect() } else { pending.append(.disconnected(reason: 0x16)) }
        case .wait(let delay):
            let link = generation
            let sleep = self.sleep
            group.addTask {
                do {
                    try await sleep(delay)
                    continuation.yield(.reconnectDue(generation: link))
                } catch {}
            }
        case .reportUp(let subscribed):
            await observe(.up(subscribed))
        case .reportFailure(let failure):
            await observe(.failure(failure))
        case .reportDisconnected(let reason):
            await observe(.disconnected(reason: reason))
        }
    }

    /// One request on the current link; its outcome becomes the next event.
    private func request(
        _ stage: SessionFailure.Stage, _ body: (any DeviceConnection) async throws -> Void,
        then success: () -> DeviceSessionStateMachine.Event
    ) async {
        guard let connection else { return }
        do {
            try await body(connection)
            pending.append(success())
        } catch {
            pending.append(.failed(Self.failure(error, stage: stage)))
        }
    }

    /// Decodes and delivers one value; false when delivery failed (the link is then closed).
    /// A value that is ignored or does not decode is done with: sending it again would not help.
    private func receive(handle: UInt16, bytes: [UInt8]) async -> Bool {
        // Values of characteristics that were not subscribed (a peer that notifies unasked) are ignored.
        guard let measurement = characteristics[handle] else { return true }
        let reading: HealthReading
        do {
            reading = try HealthDecoder.decode(measurement.characteristic, bytes)
        } catch {
            await observe(.failure(SessionFailure(.decode, "\(error)")))
            return true
        }
        do {
            try await deliver(DeviceReading(
                address: settings.address, reading: reading, receivedAt: now(), device: deviceInformation, clock: clock))
            return true
        } catch {
            pending.append(.failed(Self.failure(error, stage: .deliver)))
            return false
        }
    }

    /// Reads the device's Current Time, when it serves one, against the gateway's clock. Optional
    /// like the Device Information: a value that does not decode is reported and the link
    /// carries on without a check; a clock that is not set gives none either.
    private func checkClock(_ connection: any DeviceConnection) async -> DeviceClock? {
        guard let bytes = await connection.readCurrentTime() else { return nil }
        let checkedAt = now()
        do {
            let current = try CurrentTime.decode(bytes)
            return DeviceClock(current: current, checkedAt: checkedAt, toleranceSeconds: settings.clockToleranceSeconds)
        } catch {
            await observe(.failure(SessionFailure(.decode, "\(error)")))
            return nil
        }
    }

    private static func failure(_ error: any Error, stage: SessionFailure.Stage) -> SessionFailure {
        if let failure = error as? SessionFailure { return failure }
        if let error = error as? BluetoothError, case .att(let code) = error.kind {
            return SessionFailure(stage, error.message, attError: code)
        }
        return SessionFailure(stage, "\(error)")
    }
}
