import JSONQuery

/// What a reading's status fields say about its quality, in words a clinician reads in an
/// Observation's `note`: blood-pressure measurement status, and the PLX measurement and device
/// and sensor status. Only conditions that are set are named; a clean reading has no notes.
extension HealthReading {
    package var measurementNotes: [String] {
        var notes: [String] = []
        switch characteristic {
        case .bloodPressureMeasurement:
            guard case .object(let status)? = details["measurementStatus"] else { return [] }
            for (key, text) in Self.bloodPressureFlags where status[key] == .bool(true) { notes.append(text) }
            switch status["pulseRateRange"]?.stringValue {
            case "exceedsUpperLimit": notes.append("Pulse rate exceeds the upper limit")
            case "belowLowerLimit": notes.append("Pulse rate is below the lower limit")
            default: break
            }
        case .plxSpotCheckMeasurement, .plxContinuousMeasurement:
            if case .int(let bits)? = details["measurementStatus"] {
                for (bit, text) in Self.plxMeasurementStatus where bits >> bit & 1 == 1 { notes.append(text) }
            }
            if case .int(let bits)? = details["deviceAndSensorStatus"] {
                for (bit, text) in Self.plxDeviceAndSensorStatus where bits >> bit & 1 == 1 { notes.append(text) }
            }
        default:
            break
        }
        return notes
    }

    /// Blood Pressure Measurement Status bits 0, 1, 2 and 5 (as the decoder names them).
    static let bloodPressureFlags: [(String, String)] = [
        ("bodyMovementDetected", "Body movement detected during measurement"),
        ("cuffTooLoose", "Cuff too loose"),
        ("irregularPulseDetected", "Irregular pulse detected"),
        ("improperMeasurementPosition", "Improper measurement position"),
    ]

    /// PLX Measurement Status bits that qualify a reading (bits 5 to 9 describe ordinary data).
    static let plxMeasurementStatus: [(Int64, String)] = [
        (10, "Data for demonstration"), (11, "Data for testing"), (12, "Calibration ongoing"),
        (13, "Measurement unavailable"), (14, "Questionable measurement detected"), (15, "Invalid measurement detected"),
    ]

    /// PLX Device and Sensor Status bits that name a problem (bits 0 and 9 are progress, not problems).
    static let plxDeviceAndSensorStatus: [(Int64, String)] = [
        (1, "Equipment malfunction detected"), (2, "Signal processing irregularity detected"), (3, "Inadequate signal detected"),
        (4, "Poor signal detected"), (5, "Low perfusion detected"), (6, "Erratic signal detected"), (7, "Nonpulsatile signal detected"),
        (8, "Questionable pulse detected"), (10, "Sensor interference detected"), (11, "Sensor unconnected to user"),
        (12, "Unknown sensor connected"), (13, "Sensor displaced"), (14, "Sensor malfunctioning"), (15, "Sensor disconnected"),
    ]
}
