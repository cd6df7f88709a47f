/// One planned request and the points it carries.
package struct PlannedRead: Sendable, Hashable {
    package struct Placement: Sendable, Hashable {
        /// Index into the register map's points.
        package var point: Int
        /// Offset of the point's first register (or bit) in the reply.
        package var offset: Int
    }

    package var request: ModbusReadRequest
    package var placements: [Placement]
}

/// The requests one poll of a device sends: points merged per table into as few requests as the
/// device's limits allow.
package struct RequestPlan: Sendable, Hashable {
    package var reads: [PlannedRead]

    /// Plans `points` for `settings.unit`. Points of one table merge while the request stays within
    /// `maxRegistersPerRequest` (`maxBitsPerRequest` on coil tables) and the unused registers between
    /// two neighbours are at most `maxGap`. Without `mergesRequests`, each point is its own request.
    package init(points: [RegisterPoint], settings: ModbusPollSettings) {
        var reads: [PlannedRead] = []
        for table in ModbusTable.allCases {
            let indexes = points.indices.filter { points[$0].table == table }
                .sorted { (points[$0].address, $0) < (points[$1].address, $1) }
            let limit = table.holdsWords
                ? min(settings.maxRegistersPerRequest, ModbusPollSettings.registerLimit)
                : min(settings.maxBitsPerRequest, ModbusPollSettings.bitLimit)
            var start = 0, end = 0
            var members: [Int] = []
            func flush() {
                guard !members.isEmpty else { return }
                let request = ModbusReadRequest(unit: settings.unit, table: table, address: UInt16(start), count: UInt16(end - start))
                reads.append(PlannedRead(request: request, placements: members.map {
                    PlannedRead.Placement(point: $0, offset: Int(points[$0].address) - start)
                }))
                members = []
            }
            for index in indexes {
                let point = points[index]
                let low = Int(point.address), high = low + point.span
                if !members.isEmpty, settings.mergesRequests, low <= end + max(settings.maxGap, 0), max(end, high) - start <= limit {
                    end = max(end, high)
                    members.append(index)
                } else {
                    flush()
                    start = low
                    end = high
                    members = [index]
                }
            }
            flush()
        }
        self.reads = reads
    }

    /// Registers and bits the plan reads, including gaps.
    package var registerCount: Int { reads.reduce(0) { $0 + Int($1.request.count) } }

    /// One line per request, for `modbus poll --plan`: `unit 1 input 0+6: tick_ir temperature …`.
    package func describe(points: [RegisterPoint]) -> [String] {
        reads.map { read in
            read.request.description + ": " + read.placements.map { points[$0.point].name }.joined(separator: " ")
        }
    }
}
