import BluetoothDecoding
import EdgeCore

/// The Bluetooth LE host (central role) over one controller. It owns every piece of host state:
/// HCI command flow, ACL credits, L2CAP reassembly, the ATT bearer of each link, scanning. The
/// decisions live in the state machines it feeds (`CommandFlow`, `ACLFlow`, `L2CAPReassembler`,
/// `ATTBearer`, `LESignalling`); this actor performs their actions.
package actor BluetoothHost {
    let transport: any HCITransport
    let configuration: HostConfiguration
    let clock: any Clock<Duration>

    private var commands = CommandFlow()
    private var nextTicket = 0
    private var commandWaiters: [Int: CheckedContinuation<CommandFlow.Reply, any Error>] = [:]
    private var timers: [Int: Task<Void, Never>] = [:]
    private var acl = ACLFlow()
    private var reassembler = L2CAPReassembler()
    private var links: [UInt16: Link] = [:]
    private var pendingConnection: PendingConnection?
    private var connectionQueue: [CheckedContinuation<Void, Never>] = []
    private var scan: ScanState?
    private var reader: Task<Void, Never>?
    private(set) package var controller: ControllerInfo?
    private var counters = HostStatistics()
    private var closedError: BluetoothError?

    private struct Link {
        var info: LinkInfo
        var bearer: ATTBearer
        var attWaiters: [Int: CheckedContinuation<[UInt8], any Error>] = [:]
        var events: AsyncStream<ConnectionEvent>.Continuation
        var security: AsyncStream<SecurityEvent>.Continuation
        var disconnectWaiters: [CheckedContinuation<UInt8, Never>] = []
        var encrypted = false
        /// Runs while an indication waits for its consumer's confirmation.
        var confirmationTimer: Task<Void, Never>?
        /// Runs from the controller's acceptance of Disconnect until Disconnection Complete.
        var disconnectTimer: Task<Void, Never>?
        var disconnectTicket = 0
    }

    private struct PendingConnection {
        var attempt: Int
        var continuation: CheckedContinuation<HCIEvent.ConnectionComplete, any Error>
        var cancelled = false
    }

    private struct ScanState {
        var options: ScanOptions
        var continuation: AsyncStream<ScanReport>.Continuation
    }

    package init(transport: any HCITransport, configuration: HostConfiguration = HostConfiguration(),
                clock: any Clock<Duration> = ContinuousClock()) {
        self.transport = transport
        self.configuration = configuration
        self.clock = clock
    }

    /// Opens `address` and starts a host on it.
    package static func open(_ address: TransportAddress, configuration: HostConfiguration = HostConfiguration()) async throws -> BluetoothHost {
        let host = BluetoothHost(transport: try await address.open(), configuration: configuration)
        do {
            _ = try await host.start()
        } catch {
            await host.close()
            throw error
        }
        return host
    }

    package var statistics: HostStatistics {
        var snapshot = counters
        snapshot.droppedACLFragments += reassembler.droppedFragments
        snapshot.attributeProtocolErrors += links.values.reduce(0) { $0 + $1.bearer.protocolErrors }
        if let counting = transport as? any CountingTransport { snapshot.transport = counting.statistics }
        return snapshot
    }

    // MARK: - Setup

    /// Reads the transport, resets the controller and sets it up: event masks (LE Meta
    /// included), buffer sizes, the address, and one family of scanning/initiating commands.
    package func start() async throws -> ControllerInfo {
        if let controller { return controller }
        if reader == nil {
            let incoming = transport.incoming
            reader = Task { [weak self] in
                do {
                    for try await packet in incoming {
                        guard let self else { return }
                        await self.receive(packet)
                    }
                    await self?.transportEnded(BluetoothError(.transport, "the HCI transport closed"))
                } catch {
                    await self?.transportEnded(error as? BluetoothError ?? BluetoothError(.transport, "the HCI transport failed: \(error)"))
                }
            }
        }
        _ = try await command(.reset)
        try await command(.setEventMask(Self.eventMask))
        let version = try await command(.readLocalVersion).returnParameters
        let supported = try await command(.readLocalSupportedCommands).returnParameters
        let features = try await command(.leReadLocalSupportedFeatures).returnParameters
        let extended = Self.supportsExtendedCommands(supportedCommands: supported, leFeatures: features)
        try await command(.leSetEventMask(extended ? Self.leEventMask | 1 << 12 : Self.leEventMask))
        var (length, count) = try Self.bufferSize(le: await command(.leReadBufferSize).returnParameters)
        if length == 0 {
            // Shared BR/EDR and LE buffers: the LE size is 0 and Read Buffer Size applies.
            let shared = try await command(.readBufferSize).returnParameters
            length = Int(shared.u16(at: 0) ?? 27)
            count = Int(shared.u16(at: 3) ?? 1)
        }
        acl = ACLFlow(fragmentLength: length, buffers: count)
        let publicAddress = BluetoothAddress(littleEndian: try await command(.readDeviceAddress).returnParameters.prefix(6), type: .public)
        var address = publicAddress
        if publicAddress.value == 0 {
            var generator = SplitMix64(seed: configuration.addressSeed)
            // Random static: the two most significant bits set, not all ones or zeros after them.
            address = BluetoothAddress(value: generator.next() & 0x3FFF_FFFF_FFFE | 0xC000_0000_0001 , type: .random)
            try await command(.leSetRandomAddress(address))
        }
        let info = ControllerInfo(address: address, usesExtendedCommands: extended, aclBufferLength: length, aclBuffers: count,
                                  supportsDataLengthExtension: features.first.map { $0 & 0x20 != 0 } ?? false,
                                  hciVersion: version.u8(at: 0) ?? 0, manufacturer: version.u16(at: 4) ?? 0)
        controller = info
        return info
    }

    /// Disconnection Complete (4), Encryption Change (7), Hardware Error (15), Encryption Key
    /// Refresh Complete (47), LE Meta (61).
    static let eventMask: UInt64 = 1 << 4 | 1 << 7 | 1 << 15 | 1 << 47 | 1 << 61
    /// LE Connection Complete (0), Advertising Report (1), Connection Update Complete (2), Read
    /// Remote Features Complete (3), Long Term Key Request (4), Data Length Change (6).
    static let leEventMask: UInt64 = 0x5F

    /// Extended when LE Set Extended Scan Parameters/Enable and LE Extended Create Connection are
    /// all supported (octet 37 bits 5-7) and the LE Extended Advertising feature (bit 12) is set.
    static func supportsExtendedCommands(supportedCommands: [UInt8], leFeatures: [UInt8]) -> Bool {
        guard supportedCommands.count > 37, leFeatures.count > 1 else { return false }
        return supportedCommands[37] & 0xE0 == 0xE0 && leFeatures[1] & 0x10 != 0
    }

    static func bufferSize(le parameters: [UInt8]) throws -> (Int, Int) {
        guard let length = parameters.u16(at: 0), let count = parameters.u8(at: 2) else {
            throw BluetoothError(.protocolViolation, "HCI LE Read Buffer Size: reply too short")
        }
        return (Int(length), max(Int(count), 1))
    }

    /// Ends every link, closes the transport, and fails whatever still waits.
    package func close() async {
        if closedError == nil {
            for handle in links.keys.sorted() {
                _ = try? await command(.disconnect(handle: handle, reason: 0x13))
                // Ended by us, whether or not Disconnection Complete arrives before the transport closes.
                linkEnded(handle, reason: 0x16)
            }
        }
        transport.close()
        transportEnded(BluetoothError(.transport, "the host was closed"))
        reader?.cancel()
    }

    // MARK: - Commands

    @discardableResult
    func command(_ command: HCICommand) async throws -> CommandFlow.Reply {
        if let closedError { throw closedError }
        nextTicket += 1
        let ticket = nextTicket
        return try await withCheckedThrowingContinuation { continuation in
            commandWaiters[ticket] = continuation
            let timeout = configuration.commandTimeout
            let clock = self.clock
            timers[ticket] = Task { [weak self] in
                guard (try? await clock.sleep(for: timeout)) != nil else { return }
                await self?.commandTimedOut(ticket)
            }
            perform(commands.submit(command, ticket: ticket))
        }
    }

    private func commandTimedOut(_ ticket: Int) {
        perform(commands.timedOut(ticket))
    }

    private func perform(_ actions: [CommandFlow.Action]) {
        for action in actions {
            switch action {
            case .send(let command, _):
                transport.send(command.packet)
            case .finish(let ticket, let result):
                timers.removeValue(forKey: ticket)?.cancel()
                commandWaiters.removeValue(forKey: ticket)?.resume(with: result)
            }
        }
    }

    // MARK: - Incoming

    private func receive(_ packet: H4Packet) {
        switch packet {
        case .event(let code, let parameters):
            handle(HCIEvent(code: code, parameters: parameters))
        case .acl(let handle, let boundary, let data):
            guard links[handle] != nil else {
                counters.droppedACLFragments += 1
                return
            }
            if let pdu = reassembler.receive(handle: handle, boundary: boundary, data: data) {
                deliver(pdu, on: handle)
            }
        case .command:
            counters.malformedEvents += 1
        }
    }

    private func handle(_ event: HCIEvent) {
        switch event {
        case .commandComplete, .commandStatus:
            perform(commands.received(event))
        case .numberOfCompletedPackets(let entries):
            for entry in entries { sendACL(acl.completed(handle: entry.handle, count: Int(entry.count))) }
        case .connectionComplete(let complete):
            connectionCompleted(complete)
        case .disconnectionComplete(let status, let handle, let reason):
            if status == 0 { linkEnded(handle, reason: reason) }
        case .encryptionChange(let status, let handle, let enabled):
            guard links[handle] != nil else { return }
            if status == 0 { links[handle]?.encrypted = enabled }
            links[handle]?.security.yield(.encryptionChanged(status: status, enabled: enabled))
        case .encryptionKeyRefreshComplete(let status, let handle):
            links[handle]?.security.yield(.keyRefreshed(status: status))
        case .advertisingReports(let reports):
            guard let scan else { return }
            for report in reports {
                if !scan.options.allowList.isEmpty, !scan.options.allowList.contains(where: { $0.sameDevice(as: report.address) }) { continue }
                scan.continuation.yield(ScanReport(report))
            }
        case .longTermKeyRequest(let handle):
            // Only a peripheral is asked for a key; this host never advertises, so it has none.
            Task { _ = try? await self.command(.leLongTermKeyNegativeReply(handle: handle)) }
        case .hardwareError:
            counters.hardwareErrors += 1
        case .malformed:
            counters.malformedEvents += 1
        case .connectionUpdateComplete, .dataLengthChange, .ignored:
            break
        }
    }

    private func deliver(_ pdu: L2CAPReassembler.PDU, on handle: UInt16) {
        guard let role = links[handle]?.info.role else { return }
        switch pdu.channel {
        case L2CAPChannel.attribute:
            guard let actions = links[handle]?.bearer.received(pdu.payload) else { return }
            performATT(actions, on: handle)
        case L2CAPChannel.signalling:
            let outcome = LESignalling.handle(pdu.payload, role: role)
            if let reply = outcome.reply {
                if reply.first == LESignalling.commandReject { counters.rejectedSignallingRequests += 1 }
                sendL2CAP(channel: L2CAPChannel.signalling, payload: reply, on: handle)
            }
            if let update = outcome.update {
                Task {
                    _ = try? await self.command(.leConnectionUpdate(handle: handle, intervalMin: update.intervalMin, intervalMax: update.intervalMax,
                                                                    latency: update.latency, timeout: update.timeout))
                }
            }
        case L2CAPChannel.security:
            links[handle]?.security.yield(.smp(pdu.payload))
            if !configuration.handlesSecurity, let code = pdu.payload.first, code == 0x01 || code == 0x0B {
                // Pairing Request / Security Request without a security manager: Pairing Failed,
                // reason Pairing Not Supported.
                counters.refusedPairingRequests += 1
                sendL2CAP(channel: L2CAPChannel.security, payload: [0x05, 0x05], on: handle)
            }
        default:
            counters.droppedACLFragments += 1
        }
    }

    // MARK: - ACL and ATT

    private func sendACL(_ packets: [H4Packet]) {
        for packet in packets { transport.send(packet) }
    }

    private func sendL2CAP(channel: UInt16, payload: [UInt8], on handle: UInt16) {
        sendACL(acl.enqueue(handle: handle, pdu: L2CAPChannel.frame(channel: channel, payload: payload)))
    }

    func attributeRequest(_ pdu: [UInt8], on handle: UInt16) async throws -> [UInt8] {
        guard links[handle] != nil else { throw BluetoothError(.disconnected(reason: 0x02), "link 0x\(String(handle, radix: 16)) is not connected") }
        nextTicket += 1
        let ticket = nextTicket
        return try await withCheckedThrowingContinuation { continuation in
            links[handle]?.attWaiters[ticket] = continuation
            guard let actions = links[handle]?.bearer.submit(pdu, ticket: ticket) else { return }
            performATT(actions, on: handle)
        }
    }

    private func performATT(_ actions: [ATTBearer.Action], on handle: UInt16) {
        for action in actions {
            switch action {
            case .send(let pdu):
                sendL2CAP(channel: L2CAPChannel.attribute, payload: pdu, on: handle)
            case .finish(let ticket, let result):
                timers.removeValue(forKey: ticket)?.cancel()
                links[handle]?.attWaiters.removeValue(forKey: ticket)?.resume(with: result)
            case .value(let valueHandle, let bytes, let indicated):
                let event: ConnectionEvent = indicated ? .indication(handle: valueHandle, value: bytes) : .notification(handle: valueHandle, value: bytes)
                if case .dropped = links[handle]?.events.yield(event) { counters.droppedValues += 1 }
            case .startTimer(let ticket):
                let timeout = configuration.attributeTimeout
                let clock = self.clock
                timers[ticket] = Task { [weak self] in
                    guard (try? await clock.sleep(for: timeout)) != nil else { return }
                    await self?.attributeTimedOut(ticket, on: handle)
                }
            case .startConfirmationTimer(let number):
                let timeout = configuration.attributeTimeout
                let clock = self.clock
                links[handle]?.confirmationTimer?.cancel()
                links[handle]?.confirmationTimer = Task { [weak self] in
                    guard (try? await clock.sleep(for: timeout)) != nil else { return }
                    await self?.confirmationTimedOut(number, on: handle)
                }
            case .fail:
                Task { _ = try? await self.command(.disconnect(handle: handle, reason: 0x13)) }
            }
        }
    }

    /// Handle Value Confirmation for the link's outstanding indication, once its value is durable.
    func confirmIndication(on handle: UInt16) {
        guard let actions = links[handle]?.bearer.confirmIndication(), !actions.isEmpty else { return }
        links[handle]?.confirmationTimer?.cancel()
        links[handle]?.confirmationTimer = nil
        performATT(actions, on: handle)
    }

    private func confirmationTimedOut(_ number: Int, on handle: UInt16) {
        guard let actions = links[handle]?.bearer.confirmationTimedOut(number), !actions.isEmpty else { return }
        counters.unconfirmedIndications += 1
        performATT(actions, on: handle)
    }

    private func attributeTimedOut(_ ticket: Int, on handle: UInt16) {
        guard let actions = links[handle]?.bearer.timedOut(ticket) else { return }
        performATT(actions, on: handle)
    }

    func negotiated(mtu: UInt16, on handle: UInt16) {
        links[handle]?.bearer.negotiated(serverMTU: mtu)
    }

    func mtu(on handle: UInt16) -> Int { Int(links[handle]?.bearer.mtu ?? 23) }

    func isEncrypted(_ handle: UInt16) -> Bool { links[handle]?.encrypted ?? false }

    // MARK: - Connections

    /// Connects to `peer` (one connection attempt at a time; others wait their turn). After
    /// `timeout` the attempt is cancelled and this throws a timeout error.
    package func connect(to peer: BluetoothAddress, timeout: Duration = .seconds(10),
                        parameters: ConnectionParameters = ConnectionParameters()) async throws -> GATTConnection {
        try await establish(peer: peer, acceptList: [], name: "\(peer)", timeout: timeout, parameters: parameters)
    }

    /// Connects to whichever of `peers` advertises connectably first, through the controller's
    /// Filter Accept List: for devices that advertise only briefly after a measurement (cuffs,
    /// scales), without scanning for them. `GATTConnection.peer` says which one it was.
    package func connect(toAnyOf peers: Set<BluetoothAddress>, timeout: Duration = .seconds(30),
                        parameters: ConnectionParameters = ConnectionParameters()) async throws -> GATTConnection {
        guard !peers.isEmpty else { throw BluetoothError(.invalidRequest, "connect: no device to wait for") }
        return try await establish(peer: nil, acceptList: peers.sorted(), name: "any of \(peers.count) devices", timeout: timeout, parameters: parameters)
    }

    private func establish(peer: BluetoothAddress?, acceptList: [BluetoothAddress], name: String, timeout: Duration,
                           parameters: ConnectionParameters) async throws -> GATTConnection {
        guard let controller else { throw BluetoothError(.invalidRequest, "connect \(name): the host is not started") }
        while pendingConnection != nil {
            await withCheckedContinuation { connectionQueue.append($0) }
        }
        if let closedError { throw closedError }
        defer {
            if !connectionQueue.isEmpty { connectionQueue.removeFirst().resume() }
        }
        let ownType = controller.address.type
        let target = peer ?? BluetoothAddress(value: 0, type: .public)
        let useList = peer == nil
        // The list may only change while no attempt uses it: the commands run inside this attempt.
        let prelude: [HCICommand] = useList ? [.leClearFilterAcceptList] + acceptList.map { .leAddToFilterAcceptList($0) } : []
        let create: HCICommand = controller.usesExtendedCommands
            ? .leExtendedCreateConnection(peer: target, useAcceptList: useList, ownAddressType: ownType, parameters: parameters)
            : .leCreateConnection(peer: target, useAcceptList: useList, ownAddressType: ownType, parameters: parameters)
        let clock = self.clock
        nextTicket += 1
        let attempt = nextTicket
        let complete: HCIEvent.ConnectionComplete = try await withCheckedThrowingContinuation { continuation in
            pendingConnection = PendingConnection(attempt: attempt, continuation: continuation)
            timers[attempt] = Task {
                do {
                    for command in prelude { try await self.command(command) }
                    try await self.command(create)
                } catch {
                    self.failPendingConnection(error)
                    return
                }
                guard (try? await clock.sleep(for: timeout)) != nil else { return }
                await self.cancelPendingConnection(attempt)
            }
        }
        timers.removeValue(forKey: attempt)?.cancel()
        guard complete.status == 0 else {
            let reason = complete.status == 0x02 ? "no connectable advert within \(timeout) (cancelled)" : HCIStatus.describe(complete.status)
            throw BluetoothError(complete.status == 0x02 ? .timeout : .command(status: complete.status), "connect \(name): \(reason)")
        }
        guard let connection = madeConnections.removeValue(forKey: complete.handle) else {
            throw BluetoothError(.disconnected(reason: 0x08), "connect \(name): the link ended as soon as it was made")
        }
        return connection
    }

    private func failPendingConnection(_ error: any Error) {
        pendingConnection?.continuation.resume(throwing: error)
        pendingConnection = nil
    }

    private func cancelPendingConnection(_ attempt: Int) async {
        guard var pending = pendingConnection, pending.attempt == attempt, !pending.cancelled else { return }
        pending.cancelled = true
        pendingConnection = pending
        // The controller answers with LE Connection Complete status 0x02, which ends the wait;
        // if the link was made meanwhile the cancel is refused and the link stands.
        _ = try? await command(.leCreateConnectionCancel)
        // A controller that never completes the cancelled attempt must not hold the host forever.
        guard (try? await clock.sleep(for: configuration.commandTimeout)) != nil else { return }
        if let stuck = pendingConnection, stuck.attempt == attempt {
            pendingConnection = nil
            stuck.continuation.resume(throwing: BluetoothError(.timeout, "connect: the controller did not complete the cancelled connection attempt"))
        }
    }

    private var madeConnections: [UInt16: GATTConnection] = [:]

    private func connectionCompleted(_ complete: HCIEvent.ConnectionComplete) {
        guard let controller else { return }
        if complete.status == 0 {
            let info = LinkInfo(handle: complete.handle, role: complete.role, peer: complete.peer, local: controller.address)
            let (events, eventContinuation) = AsyncStream.makeStream(of: ConnectionEvent.self, bufferingPolicy: .bufferingOldest(configuration.eventBuffer))
            let (security, securityContinuation) = AsyncStream.makeStream(of: SecurityEvent.self)
            links[complete.handle] = Link(info: info, bearer: ATTBearer(server: ATTServer(deviceName: configuration.deviceName)),
                                          events: eventContinuation, security: securityContinuation)
            let connection = GATTConnection(host: self, link: info, events: events, securityEvents: security)
            if pendingConnection != nil, complete.role == .central {
                madeConnections[complete.handle] = connection
                if controller.supportsDataLengthExtension {
                    // Optional: a controller that refuses keeps 27-octet payloads, which work too.
                    Task { _ = try? await self.command(.leSetDataLength(handle: complete.handle)) }
                }
            } else {
                // A link we did not ask for (a peripheral role is never set up): end it.
                Task { _ = try? await self.command(.disconnect(handle: complete.handle, reason: 0x13)) }
            }
        }
        if let pending = pendingConnection {
            pendingConnection = nil
            pending.continuation.resume(returning: complete)
        }
    }

    private func linkEnded(_ handle: UInt16, reason: UInt8) {
        guard let link = links.removeValue(forKey: handle) else { return }
        counters.attributeProtocolErrors += link.bearer.protocolErrors
        link.confirmationTimer?.cancel()
        link.disconnectTimer?.cancel()
        madeConnections[handle] = nil
        reassembler.disconnected(handle: handle)
        sendACL(acl.disconnected(handle: handle))
        var bearer = link.bearer
        let error = BluetoothError(.disconnected(reason: reason), "link to \(link.info.peer) ended: \(HCIStatus.describe(reason))")
        for action in bearer.closed(error) {
            if case .finish(let ticket, let result) = action {
                timers.removeValue(forKey: ticket)?.cancel()
                link.attWaiters[ticket]?.resume(with: result)
            }
        }
        link.events.yield(.disconnected(reason: reason))
        link.events.finish()
        link.security.yield(.disconnected(reason: reason))
        link.security.finish()
        for waiter in link.disconnectWaiters { waiter.resume(returning: reason) }
    }

    /// Ends the link (HCI Disconnect) and returns once the controller reports it gone, or once
    /// `disconnectTimeout` passed without Disconnection Complete (the link then counts as gone).
    func disconnect(_ handle: UInt16, reason: UInt8) async -> UInt8? {
        guard links[handle] != nil else { return nil }
        return await withCheckedContinuation { continuation in
            links[handle]?.disconnectWaiters.append(continuation)
            Task {
                do {
                    try await self.command(.disconnect(handle: handle, reason: reason))
                } catch {
                    // The controller no longer knows the link, or does not answer: treat it as gone.
                    self.linkEnded(handle, reason: 0x16)
                    return
                }
                self.awaitDisconnectionComplete(handle)
            }
        }
    }

    /// The controller took the Disconnect: Disconnection Complete ends the link, or the timer does.
    private func awaitDisconnectionComplete(_ handle: UInt16) {
        guard links[handle] != nil, links[handle]?.disconnectTimer == nil else { return }
        nextTicket += 1
        let ticket = nextTicket
        let clock = self.clock
        let timeout = configuration.disconnectTimeout
        links[handle]?.disconnectTicket = ticket
        links[handle]?.disconnectTimer = Task { [weak self] in
            guard (try? await clock.sleep(for: timeout)) != nil else { return }
            await self?.disconnectTimedOut(handle, ticket: ticket)
        }
    }

    private func disconnectTimedOut(_ handle: UInt16, ticket: Int) {
        // The ticket tells this link from a later one that got the same handle.
        guard links[handle]?.disconnectTicket == ticket else { return }
        counters.unansweredDisconnects += 1
        linkEnded(handle, reason: 0x16)
    }

    func sendSecurity(_ pdu: [UInt8], on handle: UInt16) throws {
        guard links[handle] != nil else { throw BluetoothError(.disconnected(reason: 0x02), "link 0x\(String(handle, radix: 16)) is not connected") }
        sendL2CAP(channel: L2CAPChannel.security, payload: pdu, on: handle)
    }

    // MARK: - Scanning

    /// Starts scanning; reports arrive on the returned stream until `stopScan()`.
    package func startScan(_ options: ScanOptions = ScanOptions()) async throws -> AsyncStream<ScanReport> {
        guard let controller else { throw BluetoothError(.invalidRequest, "scan: the host is not started") }
        guard scan == nil else { throw BluetoothError(.invalidRequest, "scan: already scanning") }
        let (stream, continuation) = AsyncStream.makeStream(of: ScanReport.self, bufferingPolicy: .bufferingNewest(4096))
        scan = ScanState(options: options, continuation: continuation)
        do {
            if controller.usesExtendedCommands {
                try await command(.leSetExtendedScanParameters(active: options.active, interval: options.interval, window: options.window,
                                                               ownAddressType: controller.address.type, filterPolicy: 0))
                try await command(.leSetExtendedScanEnable(true, filterDuplicates: options.filterDuplicates))
            } else {
                try await command(.leSetScanParameters(active: options.active, interval: options.interval, window: options.window,
                                                       ownAddressType: controller.address.type, filterPolicy: 0))
                try await command(.leSetScanEnable(true, filterDuplicates: options.filterDuplicates))
            }
        } catch {
            scan?.continuation.finish()
            scan = nil
            throw error
        }
        return stream
    }

    package func stopScan() async throws {
        guard let current = scan, let controller else { return }
        scan = nil
        current.continuation.finish()
        if controller.usesExtendedCommands {
            try await command(.leSetExtendedScanEnable(false, filterDuplicates: false))
        } else {
            try await command(.leSetScanEnable(false, filterDuplicates: false))
        }
    }

    // MARK: - Failure

    private func transportEnded(_ error: BluetoothError) {
        guard closedError == nil else { return }
        closedError = error
        perform(commands.failAll(error))
        if let pending = pendingConnection {
            pendingConnection = nil
            pending.continuation.resume(throwing: error)
        }
        for waiter in connectionQueue { waiter.resume() }
        connectionQueue = []
        for handle in links.keys.sorted() { linkEnded(handle, reason: 0x08) }
        scan?.continuation.finish()
        scan = nil
        for timer in timers.values { timer.cancel() }
        timers = [:]
    }

    /// Why the host stopped, once the transport failed or the host was closed.
    package var failure: BluetoothError? { closedError }
}
