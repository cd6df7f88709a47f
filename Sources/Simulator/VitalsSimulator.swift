package import EdgeCore
package import JSONQuery

/// Generates realistic `demo-vitals` messages for a few devices: each device drifts around its
/// own baseline, so the series look like a patient monitor's rather than noise. Deterministic
/// for a seed, so a run can be reproduced.
package struct VitalsSimulator: Sendable {
    struct Patient: Sendable {
        var deviceId: String
        var patientId: String
        var heartRate: Double
        var spo2: Double
        var systolic: Double
        var diastolic: Double
        var temperature: Double
    }

    private var random: SplitMix64
    private var patients: [Patient]
    private var next = 0

    package init(devices: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        patients = (0..<max(1, devices)).map { index in
            let number = String(index + 1)
            let padded = String(repeating: "0", count: max(0, 2 - number.count)) + number
            return Patient(
                deviceId: "demo-monitor-\(padded)", patientId: "demo-patient-\(padded)",
                heartRate: 60 + random.unit() * 30, spo2: 95 + random.unit() * 4,
                systolic: 110 + random.unit() * 25, diastolic: 70 + random.unit() * 15,
                temperature: 36.4 + random.unit() * 0.8)
        }
        self.random = random
    }

    /// The next message, round-robin over the devices, measured at `time`. Now and then a
    /// message carries only some of the measurements, as real monitors send them.
    package mutating func nextMessage(at time: Timestamp) -> JSONValue {
        var patient = patients[next]
        patient.heartRate = drift(patient.heartRate, by: 2, within: 45...140)
        patient.spo2 = drift(patient.spo2, by: 0.5, within: 88...100)
        patient.systolic = drift(patient.systolic, by: 2, within: 90...180)
        patient.diastolic = drift(patient.diastolic, by: 1.5, within: 50...110)
        patient.temperature = drift(patient.temperature, by: 0.05, within: 35.5...39.5)
        patients[next] = patient
        next = (next + 1) % patients.count

        var message: JSONObject = [
            "deviceId": .string(patient.deviceId), "patientId": .string(patient.patientId),
            "measuredAt": .string(time.iso8601),
        ]
        let subset = random.next() % 8
        message["heartRate"] = .int(Int64(patient.heartRate.rounded()))
        if subset != 1 { message["spo2"] = .int(Int64(patient.spo2.rounded())) }
        if subset != 2 {
            message["systolic"] = .int(Int64(patient.systolic.rounded()))
            message["diastolic"] = .int(Int64(patient.diastolic.rounded()))
        }
        if subset < 4 { message["temperature"] = .double((patient.temperature * 10).rounded() / 10) }
        return .object(message)
    }

    private mutating func drift(_ value: Double, by step: Double, within range: ClosedRange<Double>) -> Double {
        min(range.upperBound, max(range.lowerBound, value + (random.unit() * 2 - 1) * step))
    }
}
