import BluetoothDecoding

/// What arrives on a link without being asked for.
package enum ConnectionEvent: Sendable, Equatable {
    /// A Handle Value Notification.
    case notification(handle: UInt16, value: [UInt8])
    /// A Handle Value Indication, not yet confirmed: its consumer calls
    /// `GATTConnection.confirmIndication()` once the value is durable (the peer may then delete
    /// it) and must do so within 30 s; the peer sends no other indication meanwhile.
    case indication(handle: UInt16, value: [UInt8])
    /// The link is gone (HCI reason); the stream finishes after this event.
    case disconnected(reason: UInt8)
}

/// One LE link in the central role, as a GATT client. Requests run one at a time per link (ATT
/// allows one outstanding request); each fails with the ATT error the peer answered, or with
/// `.disconnected` as soon as the link goes down. All state lives in the host actor.
package struct GATTConnection: SecurityChannel {
    let host: BluetoothHost
    package let link: LinkInfo
    /// Notifications and indications in arrival order, then `.disconnected`. One consumer.
    package let events: AsyncStream<ConnectionEvent>
    package let securityEvents: AsyncStream<SecurityEvent>

    init(host: BluetoothHost, link: LinkInfo, events: AsyncStream<ConnectionEvent>, securityEvents: AsyncStream<SecurityEvent>) {
        self.host = host
        self.link = link
        self.events = events
        self.securityEvents = securityEvents
    }

    package var peer: BluetoothAddress { link.peer }

    /// The ATT MTU in use (23 until exchanged).
    package var mtu: Int { get async { await host.mtu(on: link.handle) } }

    package var isEncrypted: Bool { get async { await host.isEncrypted(link.handle) } }

    /// Exchange MTU: offers 247 and returns the MTU both sides now use.
    @discardableResult
    package func exchangeMTU() async throws -> Int {
        let reply = try await request([ATTOpcode.exchangeMTURequest] + le16(ATTBearer.preferredMTU))
        guard let serverMTU = reply.u16(at: 1) else { throw GATTDiscoveryParsing.malformed("Exchange MTU") }
        await host.negotiated(mtu: serverMTU, on: link.handle)
        return await mtu
    }

    // MARK: Discovery

    /// Every primary service with its characteristics and their descriptors, in handle order.
    package func discoverAll() async throws -> [GATTService] {
        var services = try await discoverPrimaryServices()
        for index in services.indices {
            services[index].characteristics = try await discoverCharacteristics(of: services[index])
        }
        return services
    }

    /// Primary services (Read By Group Type 0x2800 until Attribute Not Found).
    package func discoverPrimaryServices() async throws -> [GATTService] {
        var services: [GATTService] = []
        var start: UInt16 = 0x0001
        while true {
            let found: [GATTService]
            do {
                found = try GATTDiscoveryParsing.services(try await request([ATTOpcode.readByGroupTypeRequest] + le16(start) + le16(0xFFFF) + le16(0x2800)))
            } catch let error as BluetoothError where error.kind == .att(code: ATTErrorCode.attributeNotFound) {
                break
            }
            guard let last = found.last, last.endHandle >= start else { break }
            services += found
            if last.endHandle == 0xFFFF { break }
            start = last.endHandle + 1
        }
        return services
    }

    /// The characteristics of `service`, each with its descriptors.
    package func discoverCharacteristics(of service: GATTService) async throws -> [GATTCharacteristic] {
        var characteristics: [GATTCharacteristic] = []
        var start = service.startHandle
        while start <= service.endHandle {
            let found: [GATTCharacteristic]
            do {
                found = try GATTDiscoveryParsing.characteristics(
                    try await request([ATTOpcode.readByTypeRequest] + le16(start) + le16(service.endHandle) + le16(0x2803)))
            } catch let error as BluetoothError where error.kind == .att(code: ATTErrorCode.attributeNotFound) {
                break
            }
            guard let last = found.last, last.declarationHandle >= start else { break }
            characteristics += found
            if last.declarationHandle == 0xFFFF { break }
            start = last.declarationHandle + 1
        }
        for index in characteristics.indices {
            let end = index + 1 < characteristics.count ? characteristics[index + 1].declarationHandle - 1 : service.endHandle
            characteristics[index].descriptors = try await discoverDescriptors(from: characteristics[index].valueHandle + 1, to: end)
        }
        return characteristics
    }

    /// Descriptors in a handle range (Find Information).
    package func discoverDescriptors(from first: UInt16, to last: UInt16) async throws -> [GATTDescriptor] {
        var descriptors: [GATTDescriptor] = []
        var start = first
        while start <= last, start != 0 {
            let found: [GATTDescriptor]
            do {
                found = try GATTDiscoveryParsing.descriptors(try await request([ATTOpcode.findInformationRequest] + le16(start) + le16(last)))
            } catch let error as BluetoothError where error.kind == .att(code: ATTErrorCode.attributeNotFound) {
                break
            }
            guard let final = found.last, final.handle >= start else { break }
            descriptors += found
            if final.handle == 0xFFFF { break }
            start = final.handle + 1
        }
        return descriptors
    }

    // MARK: Values

    /// Reads a value in full: Read, then Read Blob while the value fills the MTU.
    package func read(_ handle: UInt16) async throws -> [UInt8] {
        var value = Array(try await request([ATTOpcode.readRequest] + le16(handle)).dropFirst())
        var mtu = await self.mtu
        while value.count >= mtu - 1, value.count < 512 {
            let part: [UInt8]
            do {
                part = Array(try await request([ATTOpcode.readBlobRequest] + le16(handle) + le16(UInt16(value.count))).dropFirst())
            } catch let error as BluetoothError where error.kind == .att(code: ATTErrorCode.attributeNotLong) || error.kind == .att(code: ATTErrorCode.invalidOffset) {
                break
            }
            value += part
            if part.count < mtu - 1 { break }
            mtu = await self.mtu
        }
        return value
    }

    /// Write Request (the peer acknowledges). Values longer than MTU - 3 are refused here.
    package func write(_ handle: UInt16, value: [UInt8]) async throws {
        let mtu = await self.mtu
        guard value.count <= mtu - 3 else {
            throw BluetoothError(.invalidRequest, "write to handle 0x\(String(handle, radix: 16)): \(value.count) bytes exceed the ATT MTU \(mtu) - 3")
        }
        _ = try await request([ATTOpcode.writeRequest] + le16(handle) + value)
    }

    /// Turns on indications when the characteristic indicates, else notifications, by writing its
    /// Client Characteristic Configuration descriptor; `enabled: false` turns both off.
    package func subscribe(_ characteristic: GATTCharacteristic, enabled: Bool = true) async throws {
        guard let configuration = characteristic.configurationHandle else {
            throw BluetoothError(.invalidRequest, "characteristic \(characteristic.uuid) has no Client Characteristic Configuration descriptor")
        }
        let bits: UInt16 = !enabled ? 0 : characteristic.properties.contains(.indicate) ? 0x0002 : 0x0001
        try await write(configuration, value: le16(bits))
    }

    /// Confirms the outstanding indication (Handle Value Confirmation): call it once the value is
    /// durable, never before. Does nothing when none is outstanding or the link is gone. Left
    /// unconfirmed for the ATT transaction timeout (30 s), an indication ends the link.
    package func confirmIndication() async {
        await host.confirmIndication(on: link.handle)
    }

    /// Ends the link (reason: remote user terminated) and returns when it is gone.
    package func disconnect() async {
        _ = await host.disconnect(link.handle, reason: 0x13)
    }

    // MARK: SecurityChannel

    package func sendSecurityPDU(_ pdu: [UInt8]) async throws {
        try await host.sendSecurity(pdu, on: link.handle)
    }

    package func startEncryption(longTermKey: [UInt8], encryptedDiversifier: UInt16, randomNumber: UInt64) async throws {
        guard longTermKey.count == 16 else {
            throw BluetoothError(.invalidRequest, "start encryption on \(link.peer): the long-term key must be 16 octets")
        }
        try await host.command(.leEnableEncryption(handle: link.handle, random: randomNumber, diversifier: encryptedDiversifier, key: longTermKey))
    }

    func request(_ pdu: [UInt8]) async throws -> [UInt8] {
        try await host.attributeRequest(pdu, on: link.handle)
    }
}
