package import EdgeCore
package import JSONQuery

/// One configured device: who it is, what to read and how often.
package struct ModbusDevice: Sendable {
    /// The `deviceId` of its messages and its name in health and the journal.
    package var name: String
    package var profile: ProfileID
    /// When the device belongs to one patient (a bedside device), its messages carry `patientId`.
    package var patientID: String?
    package var points: [RegisterPoint]
    package var settings: ModbusPollSettings
    package let plan: RequestPlan

    package init(name: String, profile: ProfileID, patientID: String? = nil, points: [RegisterPoint], settings: ModbusPollSettings) {
        self.name = name
        self.profile = profile
        self.patientID = patientID
        self.points = points
        self.settings = settings
        self.plan = RequestPlan(points: points, settings: settings)
    }
}

/// A request that failed in a poll, with the points it would have carried.
package struct ModbusReadFailure: Sendable, Equatable {
    package var request: ModbusReadRequest
    package var error: ModbusError
    package var points: [String]
}

/// The outcome of one poll of one device.
package struct ModbusPollResult: Sendable {
    package var device: ModbusDevice
    package var startedAt: Timestamp
    /// The device message, or nil when no request of the poll succeeded.
    package var message: JSONValue?
    package var failures: [ModbusReadFailure]
    /// Requests sent, retries included.
    package var requests: Int
    /// Registers and bits read by the successful requests.
    package var registers: Int
    package var elapsed: Duration
    /// Cancellation stopped the poll before all its requests were sent.
    package var interrupted = false
    /// Requests sent again in this poll after a garbled reply, a dropped connection or a busy answer.
    package var retries = 0
    /// Polls of this device skipped so far because the link was busy past their slot.
    package var skippedPolls = 0

    /// Every planned request succeeded.
    package var isComplete: Bool { failures.isEmpty && message != nil }

    /// The last failure's cause by name (`timeout`, `illegal data address`), for health.
    package var errorName: String? {
        guard let failure = failures.last else { return nil }
        return Self.name(of: failure.error)
    }

    package static func name(of error: ModbusError) -> String {
        switch error.kind {
        case .exception(let exception): exception.description
        case .timeout: "timeout"
        case .connection: "connection failed"
        case .badReply: "bad reply"
        case .invalidRequest: "invalid request"
        }
    }
}

/// The JSON device message of one poll:
///
/// ```json
/// {"deviceId": "room-101", "patientId": "p-7", "unit": 1, "time": "2026-11-27T08:15:00.000Z",
///  "points": {"temperature": 20.1, "co2": 425, "door_open": false},
///  "errors": {"busy_probe": "server device busy"}}
/// ```
///
/// `points` holds the engineering values (raw × scale + offset) by point name, in map order;
/// `errors` (only when some request failed) names the points that could not be read and why;
/// `patientId` only when the device is assigned to a patient.
package enum ModbusMessage {
    package static func build(
        device: ModbusDevice, time: Timestamp, values: [Int: RegisterValue], errors: [Int: String]
    ) -> JSONValue {
        var message: JSONObject = ["deviceId": .string(device.name)]
        if let patient = device.patientID { message["patientId"] = .string(patient) }
        message["unit"] = .int(Int64(device.settings.unit))
        message["time"] = .string(time.iso8601)
        var points = JSONObject()
        var failed = JSONObject()
        for (index, point) in device.points.enumerated() {
            if let value = values[index] {
                points[point.name] = value.scaled(by: point.scale, offset: point.offset).json
            } else if let error = errors[index] {
                failed[point.name] = .string(error)
            }
        }
        message["points"] = .object(points)
        if !failed.isEmpty { message["errors"] = .object(failed) }
        return .object(message)
    }

    /// Decodes the points of `read` from its reply; undecodable points get an error text.
    static func decode(
        _ read: PlannedRead, reply: ModbusReply, points: [RegisterPoint],
        into values: inout [Int: RegisterValue], errors: inout [Int: String]
    ) {
        for placement in read.placements {
            let point = points[placement.point]
            do throws(RegisterDecodingError) {
                switch reply {
                case .registers(let words):
                    let end = placement.offset + point.type.registerCount
                    guard placement.offset >= 0, end <= words.count else {
                        throw RegisterDecodingError("reply shorter than the request")
                    }
                    values[placement.point] = try RegisterDecoder.decode(words: words[placement.offset..<end], type: point.type, order: point.order)
                case .bits(let bits):
                    guard placement.offset >= 0, placement.offset < bits.count else {
                        throw RegisterDecodingError("reply shorter than the request")
                    }
                    values[placement.point] = try RegisterDecoder.decode(bit: bits[placement.offset], type: point.type)
                }
            } catch {
                errors[placement.point] = "decode: \(error.message)"
            }
        }
    }
}
