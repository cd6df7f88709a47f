package import BluetoothDecoding

/// How to scan: passive or active (scan requests bring scan responses), duplicate filtering in
/// the controller (off for BTHome, whose values change), and an allow-list of addresses (empty:
/// every advertiser). Timing in units of 0.625 ms.
package struct ScanOptions: Sendable, Hashable {
    package var active = false
    package var filterDuplicates = false
    package var allowList: Set<BluetoothAddress> = []
    package var interval: UInt16 = 0x0060
    package var window: UInt16 = 0x0030

    package init(active: Bool = false, filterDuplicates: Bool = false, allowList: Set<BluetoothAddress> = []) {
        self.active = active
        self.filterDuplicates = filterDuplicates
        self.allowList = allowList
    }
}

/// One advertising or scan-response report, its AD structures parsed.
package struct ScanReport: Sendable, Equatable {
    package var address: BluetoothAddress
    package var rssi: Int?
    package var connectable: Bool
    package var isScanResponse: Bool
    package var data: [UInt8]
    /// The AD structures, or nil when they are malformed (`decodeError` says why).
    package var advertisingData: AdvertisingData?
    package var decodeError: String?

    package init(address: BluetoothAddress, rssi: Int?, connectable: Bool, isScanResponse: Bool, data: [UInt8]) {
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
