package import EdgeCore

/// The latest advert of each device the scanner saw: its address type (a connection needs it,
/// and the configuration names devices by their 48 bits only), RSSI and when. Sessions wait here
/// until their device advertises before they connect: cuffs and scales advertise only for a
/// while after a measurement.
package actor AdvertSightings {
    package struct Sighting: Sendable, Equatable {
        package var address: BluetoothAddress
        package var rssi: Int?
        package var connectable: Bool
        package var at: Timestamp
    }

    private var latest: [UInt64: Sighting] = [:]
    private var waiters: [UInt64: [Int: CheckedContinuation<BluetoothAddress?, Never>]] = [:]
    private var nextWaiter = 0

    package init() {}

    package func record(_ report: ScanReport, at time: Timestamp) {
        let value = report.address.value
        var sighting = Sighting(address: report.address, rssi: report.rssi, connectable: report.connectable, at: time)
        // A scan response says nothing about connectability; keep what the advert said.
        if report.isScanResponse, let earlier = latest[value], earlier.address.sameDevice(as: report.address) {
            sighting.connectable = earlier.connectable
        }
        latest[value] = sighting
        guard sighting.connectable, let waiting = waiters.removeValue(forKey: value) else { return }
        for continuation in waiting.values { continuation.resume(returning: report.address) }
    }

    package func sighting(of address: BluetoothAddress) -> Sighting? { latest[address.value] }

    /// The device's address with the type its adverts carry, once it has advertised connectably;
    /// nil when it did not within `timeout` on `clock`.
    package func connectableAddress(
        of address: BluetoothAddress, within timeout: Duration, clock: any Clock<Duration> = ContinuousClock()
    ) async -> BluetoothAddress? {
        if let seen = latest[address.value], seen.connectable { return seen.address }
        nextWaiter += 1
        let id = nextWaiter
        let value = address.value
        return await withTaskGroup(of: BluetoothAddress?.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await self.wait(id: id, value: value)
                } onCancel: {
                    Task { await self.giveUp(id: id, value: value) }
                }
            }
            group.addTask {
                try? await clock.sleep(for: timeout)
                await self.giveUp(id: id, value: value)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    private func wait(id: Int, value: UInt64) async -> BluetoothAddress? {
        await withCheckedContinuation { continuation in
            if let seen = latest[value], seen.connectable {
                continuation.resume(returning: seen.address)
            } else if Task.isCancelled {
                // The cancellation handler's giveUp may already have run: registering now would never be resumed.
                continuation.resume(returning: nil)
            } else {
                waiters[value, default: [:]][id] = continuation
            }
        }
    }

    private func giveUp(id: Int, value: UInt64) {
        waiters[value]?.removeValue(forKey: id)?.resume(returning: nil)
        if waiters[value]?.isEmpty == true { waiters[value] = nil }
    }
}
