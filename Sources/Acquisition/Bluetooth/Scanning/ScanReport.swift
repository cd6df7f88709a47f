public import BluetoothDecoding

/// How to scan: passive or active (scan requests bring scan responses), duplicate filtering in
/// the controller (off for BTHome, whose values change), and an allow-list of addresses (empty:
/// every advertiser). Timing in units of 0.625 ms.
public struct ScanOptions: Sendable, Hashable {
    public var active = false
    public var filterDuplicates = false
    public var allowList: Set<BluetoothAddress> = []
    public var interval: UInt16 = 0x0060
    public var window: UInt16 = 0x0030

    public init(active: Bool = false, filterDuplicates: Bool = false, allowList: Set<BluetoothAddress> = []) {
        self.active = active
        self.filterDuplicates = filterDuplicates
        self.allowList = allowList
    }
}

/// One advertising or scan-response report, its AD structures parsed.
public struct ScanReport: Sendable, Equatable {
    public var address: BluetoothAddress
    public var rssi: Int?
    public var connectable: Bool
    public var isScanResponse: Bool
    public var data: [UInt8]
    /// The AD structures, or nil when they are malformed (`decodeError` says why).
    public var advertisingData: AdvertisingData?
    public var decodeError: String?

    public init(address: BluetoothAddress, rssi: Int?, connectable: Bool, isScanResponse: Bool, data: [UInt8]) {
        self.address = address
        self.rssi = rssi
        self.connectable = connectable
        self.isScanResponse = isScanResponse
        self.data = data
        do {
            advertisingData = try AdvertisingData.parse(data)
        } catch {
            decodeError = error.description
        }
    }

    init(_ report: HCIEvent.AdvertisingReport) {
        self.init(address: report.address, rssi: report.rssi.map(Int.init), connectable: report.connectable,
                  isScanResponse: report.isScanResponse, data: report.data)
    }
}
