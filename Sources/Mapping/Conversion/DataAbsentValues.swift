import FHIRModel

/// Value texts that stand for a reading the device could not give, and the `dataAbsentReason`
/// each becomes instead of a value. Off unless a profile asks (`profile.yaml`
/// `observation.specialValues: ieee11073`): MedTech rejects a quantity that is not a decimal
/// (`InvalidQuantityFhirValueException`), and that stays so for every other text and profile.
package struct DataAbsentValues: Hashable, Sendable {
    /// Exact value text → data-absent-reason code.
    package var reasons: [String: String]

    package init(reasons: [String: String]) {
        self.reasons = reasons
    }

    package static let none = DataAbsentValues(reasons: [:])

    /// IEEE 11073-20601 special values, as the Bluetooth decoders name them in a message's
    /// `unavailable` object: NaN, NRes (not at this resolution), ±INF and the reserved value.
    package static let ieee11073 = DataAbsentValues(reasons: [
        "NaN": "not-a-number", "NRes": "error", "+INF": "positive-infinity", "-INF": "negative-infinity", "RFU": "error",
    ])

    static let system = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
    static let displays = [
        "not-a-number": "Not a Number (NaN)", "error": "Error", "positive-infinity": "Positive Infinity (PINF)",
        "negative-infinity": "Negative Infinity (NINF)",
    ]

    /// The reason for a value text, its text the device's own name for it; nil for any other text.
    func reason(for text: String) -> CodeableConcept? {
        guard let code = reasons[text] else { return nil }
        return CodeableConcept(coding: [Coding(system: Self.system, code: code, display: Self.displays[code])], text: text)
    }
}
