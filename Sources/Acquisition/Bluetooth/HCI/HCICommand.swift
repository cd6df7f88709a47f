/// One HCI command: opcode (OGF << 10 | OCF) and parameters, with a name for errors and logs.
struct HCICommand: Sendable, Equatable {
    var opcode: UInt16
    var parameters: [UInt8]
    var name: String

    var packet: H4Packet { .command(opcode: opcode, parameters: parameters) }

    private init(_ ogf: UInt16, _ ocf: UInt16, _ name: String, _ parameters: [UInt8] = []) {
        opcode = ogf << 10 | ocf
        self.parameters = parameters
        self.name = name
    }

    static func opcode(_ ogf: UInt16, _ ocf: UInt16) -> UInt16 { ogf << 10 | ocf }

    // Controller and baseband, informational.
    static let reset = HCICommand(0x03, 0x0003, "Reset")
    static func setEventMask(_ mask: UInt64) -> HCICommand { HCICommand(0x03, 0x0001, "Set Event Mask", le64(mask)) }
    static let readLocalVersion = HCICommand(0x04, 0x0001, "Read Local Version Information")
    static let readLocalSupportedCommands = HCICommand(0x04, 0x0002, "Read Local Supported Commands")
    static let readBufferSize = HCICommand(0x04, 0x0005, "Read Buffer Size")
    static let readDeviceAddress = HCICommand(0x04, 0x0009, "Read BD_ADDR")
    static func disconnect(handle: UInt16, reason: UInt8) -> HCICommand {
        HCICommand(0x01, 0x0006, "Disconnect", le16(handle) + [reason])
    }

    // LE controller.
    static func leSetEventMask(_ mask: UInt64) -> HCICommand { HCICommand(0x08, 0x0001, "LE Set Event Mask", le64(mask)) }
    static let leReadBufferSize = HCICommand(0x08, 0x0002, "LE Read Buffer Size")
    static let leReadLocalSupportedFeatures = HCICommand(0x08, 0x0003, "LE Read Local Supported Features")
    static func leSetRandomAddress(_ address: BluetoothAddress) -> HCICommand {
        HCICommand(0x08, 0x0005, "LE Set Random Address", address.littleEndianBytes)
    }
    static func leSetScanParameters(active: Bool, interval: UInt16, window: UInt16, ownAddressType: AddressType, filterPolicy: UInt8) -> HCICommand {
        HCICommand(0x08, 0x000B, "LE Set Scan Parameters",
                   [active ? 1 : 0] + le16(interval) + le16(window) + [ownAddressType.rawValue, filterPolicy])
    }
    static func leSetScanEnable(_ enable: Bool, filterDuplicates: Bool) -> HCICommand {
        HCICommand(0x08, 0x000C, "LE Set Scan Enable", [enable ? 1 : 0, filterDuplicates ? 1 : 0])
    }
    static func leCreateConnection(peer: BluetoothAddress, useAcceptList: Bool, ownAddressType: AddressType, parameters: ConnectionParameters) -> HCICommand {
        HCICommand(0x08, 0x000D, "LE Create Connection",
                   le16(parameters.scanInterval) + le16(parameters.scanWindow) + [useAcceptList ? 1 : 0, peer.type.commandValue.rawValue]
                   + peer.littleEndianBytes + [ownAddressType.rawValue] + parameters.connectionFields)
    }
    static let leCreateConnectionCancel = HCICommand(0x08, 0x000E, "LE Create Connection Cancel")
    static let leClearFilterAcceptList = HCICommand(0x08, 0x0010, "LE Clear Filter Accept List")
    static func leAddToFilterAcceptList(_ address: BluetoothAddress) -> HCICommand {
        HCICommand(0x08, 0x0011, "LE Add Device To Filter Accept List", [address.type.commandValue.rawValue] + address.littleEndianBytes)
    }
    static func leConnectionUpdate(handle: UInt16, intervalMin: UInt16, intervalMax: UInt16, latency: UInt16, timeout: UInt16) -> HCICommand {
        HCICommand(0x08, 0x0013, "LE Connection Update",
                   le16(handle) + le16(intervalMin) + le16(intervalMax) + le16(latency) + le16(timeout) + le16(0) + le16(0))
    }
    static func leEnableEncryption(handle: UInt16, random: UInt64, diversifier: UInt16, key: [UInt8]) -> HCICommand {
        HCICommand(0x08, 0x0019, "LE Enable Encryption", le16(handle) + le64(random) + le16(diversifier) + key)
    }
    static func leLongTermKeyNegativeReply(handle: UInt16) -> HCICommand {
        HCICommand(0x08, 0x001B, "LE Long Term Key Request Negative Reply", le16(handle))
    }
    /// Longest LL payloads (251 octets, 2120 µs) on a link: fewer, larger fragments both ways.
    static func leSetDataLength(handle: UInt16) -> HCICommand {
        HCICommand(0x08, 0x0022, "LE Set Data Length", le16(handle) + le16(251) + le16(2120))
    }
    static func leSetExtendedScanParameters(active: Bool, interval: UInt16, window: UInt16, ownAddressType: AddressType, filterPolicy: UInt8) -> HCICommand {
        // One PHY (LE 1M): the health devices advertise with legacy PDUs on the primary channels.
        HCICommand(0x08, 0x0041, "LE Set Extended Scan Parameters",
                   [ownAddressType.rawValue, filterPolicy, 0x01, active ? 1 : 0] + le16(interval) + le16(window))
    }
    static func leSetExtendedScanEnable(_ enable: Bool, filterDuplicates: Bool) -> HCICommand {
        HCICommand(0x08, 0x0042, "LE Set Extended Scan Enable", [enable ? 1 : 0, filterDuplicates ? 1 : 0] + le16(0) + le16(0))
    }
    static func leExtendedCreateConnection(peer: BluetoothAddress, useAcceptList: Bool, ownAddressType: AddressType, parameters: ConnectionParameters) -> HCICommand {
        HCICommand(0x08, 0x0043, "LE Extended Create Connection",
                   [useAcceptList ? 1 : 0, ownAddressType.rawValue, peer.type.commandValue.rawValue] + peer.littleEndianBytes + [0x01]
                   + le16(parameters.scanInterval) + le16(parameters.scanWindow) + parameters.connectionFields)
    }
}

/// How to scan while initiating and which link parameters to ask for (units of the spec:
/// 0.625 ms for scan timing, 1.25 ms intervals, 10 ms supervision timeout).
package struct ConnectionParameters: Sendable, Hashable {
    package var scanInterval: UInt16 = 0x0060
    package var scanWindow: UInt16 = 0x0030
    package var intervalMin: UInt16 = 0x0018
    package var intervalMax: UInt16 = 0x0028
    package var latency: UInt16 = 0
    package var supervisionTimeout: UInt16 = 0x01F4

    package init() {}

    var connectionFields: [UInt8] {
        le16(intervalMin) + le16(intervalMax) + le16(latency) + le16(supervisionTimeout) + le16(0) + le16(0)
    }
}

func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }

extension Array where Element == UInt8 {
    /// Little-endian unsigned integer of `count` octets at `offset`, nil when out of range.
    func uint(at offset: Int, _ count: Int) -> UInt64? {
        guard offset >= 0, count <= 8, offset + count <= self.count else { return nil }
        var value: UInt64 = 0
        for index in 0..<count { value |= UInt64(self[offset + index]) << (8 * UInt64(index)) }
        return value
    }

    func u16(at offset: Int) -> UInt16? { uint(at: offset, 2).map { UInt16($0) } }
    func u8(at offset: Int) -> UInt8? { offset >= 0 && offset < count ? self[offset] : nil }
}
