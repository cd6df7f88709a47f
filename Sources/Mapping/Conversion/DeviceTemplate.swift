package import FHIRModel
package import JSONQuery

/// What a profile says about every Device it creates (`profile.yaml` `device:`), beyond the
/// identity that `ResourceIdentity` gives it: the Device's type, the type of its identifier, and
/// whether the device's own description in the message is read.
///
/// MedTech's templates map measurements only; this is the gateway's addition for the PHD IG's
/// Device (type `MDC_MOC_VMS_MDS_SIMP`, a `BTMAC` identifier, the Device Information Service's
/// manufacturer, model, serial number and revisions).
package struct DeviceTemplate: Hashable, Sendable {
    /// `Device.type`, e.g. MDC 65573 `MDC_MOC_VMS_MDS_SIMP` (a simple personal health device).
    package var type: CodeableConcept?
    /// The `type` of the identity identifier, e.g. the PHD IG's `BTMAC`.
    package var identifierType: CodeableConcept?

    package init(type: CodeableConcept? = nil, identifierType: CodeableConcept? = nil) {
        self.type = type
        self.identifierType = identifierType
    }

    /// MDC codes of the production-specification entries the PHD IG puts in `Device.version`.
    static let mdc = "urn:iso:std:iso:11073:10101"
    static let revisions: [(key: String, code: String, display: String)] = [
        ("firmwareRevision", "531976", "MDC_ID_PROD_SPEC_FW"),
        ("softwareRevision", "531975", "MDC_ID_PROD_SPEC_SW"),
        ("hardwareRevision", "531974", "MDC_ID_PROD_SPEC_HW"),
    ]

    /// The Device with the template's codes, and with what the device reported about itself: a
    /// message's `device` object (`manufacturerName`, `modelNumber`, `serialNumber`,
    /// `firmwareRevision`, `softwareRevision`, `hardwareRevision`, all strings; the Bluetooth
    /// source fills it from the Device Information Service). Members that are not non-empty
    /// strings are ignored; values are kept as the device wrote them.
    package func apply(to device: inout Device, reported: JSONValue?) {
        if let type { device.type = type }
        if let identifierType, !device.identifier.isEmpty { device.identifier[0].type = identifierType }
        guard case .object(let object)? = reported else { return }
        func text(_ key: String) -> String? {
            guard case .string(let value)? = object[key], !value.isEmpty else { return nil }
            return value
        }
        if let value = text("manufacturerName") { device.manufacturer = value }
        if let value = text("modelNumber") { device.modelNumber = value }
        if let value = text("serialNumber") { device.serialNumber = value }
        var versions: [Device.Version] = []
        for revision in Self.revisions {
            guard let value = text(revision.key) else { continue }
            versions.append(Device.Version(
                type: CodeableConcept(coding: [Coding(system: Self.mdc, code: revision.code, display: revision.display)], text: revision.display),
                value: value))
        }
        if !versions.isEmpty { device.version = versions }
    }
}
