/// The exact bytes the ../shared/ble-rig devices send (its README and `ble_rig.py --describe`),
/// so readings decoded here match what the host stack receives from the rig.
enum RigPayloads {
    static let heartRateSequence = ["16485503", "164b3303", "164e1403", "16500003", "164d1e03", "164a3e03", "16476103", "16457a03", "16466e03", "16494a03"]
    static let heartRateBPM = [72, 75, 78, 80, 77, 74, 71, 69, 70, 73]
    static let bloodPressure = "06780050005d00e807010f081e004800"
    static let thermometer = "026e0100ffe807010f081f00"
    static let weightScale = "0a9038e807010f070000ec00d606"
    static let oximeterSequence = ["0062004800", "0061004a00", "0062004900", "0063004700"]
    static let oximeterValues = [(98, 72), (97, 74), (98, 73), (99, 71)]

    static let adverts: [(id: String, address: String, advertising: String, name: String, service: UInt16?, appearance: UInt16?)] = [
        ("hr", "F0:00:00:00:18:0D", "02010603030d18031941030d09526967204852205374726170", "Rig HR Strap", 0x180D, 0x0341),
        ("bp", "F0:00:00:00:18:10", "02010603031018031981030c095269672042502043756666", "Rig BP Cuff", 0x1810, 0x0381),
        ("thermo", "F0:00:00:00:18:09", "0201060303091803190003100952696720546865726d6f6d65746572", "Rig Thermometer", 0x1809, 0x0300),
        ("scale", "F0:00:00:00:18:1D", "02010603031d180319800c0a09526967205363616c65", "Rig Scale", 0x181D, 0x0C80),
        ("spo2", "F0:00:00:00:18:22", "020106030322180319410c0d09526967204f78696d65746572", "Rig Oximeter", 0x1822, 0x0C41),
        ("bthome", "F0:00:00:00:FC:D2", "0201060b09526967204254486f6d650e16d2fc4000010161026608039411", "Rig BTHome", nil, nil),
    ]
    static let scanResponse = "020a00"
}
