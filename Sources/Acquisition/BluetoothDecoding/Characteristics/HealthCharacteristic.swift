import EdgeCore
/// A Bluetooth SIG measurement characteristic that `HealthDecoder` reads, by its 16-bit UUID.
package struct HealthCharacteristic: Hashable, Sendable, CustomStringConvertible {
    /// How the peripheral delivers values: notifications, or indications that must be confirmed.
    package enum Delivery: String, Hashable, Sendable {
        case notify
        case indicate
    }

    package let uuid16: UInt16
    /// The SIG name: `Heart Rate Measurement`.
    package let name: String
    /// The identifier device messages carry in `characteristic`: `heartRateMeasurement`.
    package let key: String
    /// The 16-bit UUID of the service the characteristic belongs to (0x180D Heart Rate).
    package let service: UInt16
    /// The SIG name of that service.
    package let serviceName: String
    package let delivery: Delivery

    /// The measurement characteristic with that UUID, or nil when it is not one this package decodes.
    package init?(uuid16: UInt16) {
        guard let known = Self.all.first(where: { $0.uuid16 == uuid16 }) else { return nil }
        self = known
    }

    private init(_ uuid16: UInt16, _ name: String, _ key: String, service: UInt16, _ serviceName: String, _ delivery: Delivery) {
        self.uuid16 = uuid16
        self.name = name
        self.key = key
        self.service = service
        self.serviceName = serviceName
        self.delivery = delivery
    }

    /// `Heart Rate Measurement (0x2A37)`.
    package var description: String { "\(name) (0x\(hex4(uuid16)))" }

    package static let heartRateMeasurement = HealthCharacteristic(
        0x2A37, "Heart Rate Measurement", "heartRateMeasurement", service: 0x180D, "Heart Rate", .notify)
    package static let bloodPressureMeasurement = HealthCharacteristic(
        0x2A35, "Blood Pressure Measurement", "bloodPressureMeasurement", service: 0x1810, "Blood Pressure", .indicate)
    package static let intermediateCuffPressure = HealthCharacteristic(
        0x2A36, "Intermediate Cuff Pressure", "intermediateCuffPressure", service: 0x1810, "Blood Pressure", .notify)
    package static let temperatureMeasurement = HealthCharacteristic(
        0x2A1C, "Temperature Measurement", "temperatureMeasurement", service: 0x1809, "Health Thermometer", .indicate)
    package static let intermediateTemperature = HealthCharacteristic(
        0x2A1E, "Intermediate Temperature", "intermediateTemperature", service: 0x1809, "Health Thermometer", .notify)
    package static let weightMeasurement = HealthCharacteristic(
        0x2A9D, "Weight Measurement", "weightMeasurement", service: 0x181D, "Weight Scale", .indicate)
    package static let bodyCompositionMeasurement = HealthCharacteristic(
        0x2A9C, "Body Composition Measurement", "bodyCompositionMeasurement", service: 0x181B, "Body Composition", .indicate)
    package static let plxSpotCheckMeasurement = HealthCharacteristic(
        0x2A5E, "PLX Spot-check Measurement", "plxSpotCheckMeasurement", service: 0x1822, "Pulse Oximeter", .indicate)
    package static let plxContinuousMeasurement = HealthCharacteristic(
        0x2A5F, "PLX Continuous Measurement", "plxContinuousMeasurement", service: 0x1822, "Pulse Oximeter", .notify)
    package static let glucoseMeasurement = HealthCharacteristic(
        0x2A18, "Glucose Measurement", "glucoseMeasurement", service: 0x1808, "Glucose", .notify)

    /// Every characteristic this package decodes.
    package static let all: [HealthCharacteristic] = [
        .heartRateMeasurement, .bloodPressureMeasurement, .intermediateCuffPressure, .temperatureMeasurement,
        .intermediateTemperature, .weightMeasurement, .bodyCompositionMeasurement, .plxSpotCheckMeasurement,
        .plxContinuousMeasurement, .glucoseMeasurement,
    ]

    /// The 16-bit UUIDs of the services that hold them, for scan filters and discovery.
    package static let services: [UInt16] = [0x180D, 0x1810, 0x1809, 0x181D, 0x181B, 0x1822, 0x1808]
}

func hex4(_ value: UInt16) -> String {
    Hex.string([UInt8(value >> 8), UInt8(value & 0xFF)], uppercase: true)
}
