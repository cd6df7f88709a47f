/// The BTHome v2 object table (bthome.io/format), with the names and units that bthome-ble and
/// Home Assistant use. Objects carry little-endian fixed-size values unless noted.
enum BTHomeObject {
    enum Kind {
        /// A number: `raw × step × 10^exponent` in `unit`.
        case measurement(name: String, size: Int, signed: Bool, step: Int64, exponent: Int, unit: String?)
        case binary(name: String)
        case event(name: String, size: Int)
        /// A length-prefixed UTF-8 string (0x53) or byte string (0x54).
        case text(name: String)
        case raw(name: String)
        /// The device's clock as Unix seconds (0x50).
        case timestamp(name: String)
    }

    static func kind(of id: UInt8) -> Kind? { table[id] }

    private static func m(_ name: String, _ size: Int, signed: Bool = false, step: Int64 = 1, _ exponent: Int = 0, _ unit: String? = nil) -> Kind {
        .measurement(name: name, size: size, signed: signed, step: step, exponent: exponent, unit: unit)
    }

    private static let table: [UInt8: Kind] = [
        0x00: m("packet_id", 1),
        0x01: m("battery", 1, 0, "%"),
        0x02: m("temperature", 2, signed: true, -2, "°C"),
        0x03: m("humidity", 2, -2, "%"),
        0x04: m("pressure", 3, -2, "hPa"),
        0x05: m("illuminance", 3, -2, "lx"),
        0x06: m("mass", 2, -2, "kg"),
        0x07: m("mass", 2, -2, "lb"),
        0x08: m("dew_point", 2, signed: true, -2, "°C"),
        0x09: m("count", 1),
        0x0A: m("energy", 3, -3, "kWh"),
        0x0B: m("power", 3, -2, "W"),
        0x0C: m("voltage", 2, -3, "V"),
        0x0D: m("pm25", 2, 0, "µg/m³"),
        0x0E: m("pm10", 2, 0, "µg/m³"),
        0x0F: .binary(name: "generic_boolean"),
        0x10: .binary(name: "power"),
        0x11: .binary(name: "opening"),
        0x12: m("carbon_dioxide", 2, 0, "ppm"),
        0x13: m("volatile_organic_compounds", 2, 0, "µg/m³"),
        0x14: m("moisture", 2, -2, "%"),
        0x15: .binary(name: "battery"),
        0x16: .binary(name: "battery_charging"),
        0x17: .binary(name: "carbon_monoxide"),
        0x18: .binary(name: "cold"),
        0x19: .binary(name: "connectivity"),
        0x1A: .binary(name: "door"),
        0x1B: .binary(name: "garage_door"),
        0x1C: .binary(name: "gas"),
        0x1D: .binary(name: "heat"),
        0x1E: .binary(name: "light"),
        0x1F: .binary(name: "lock"),
        0x20: .binary(name: "moisture"),
        0x21: .binary(name: "motion"),
        0x22: .binary(name: "moving"),
        0x23: .binary(name: "occupancy"),
        0x24: .binary(name: "plug"),
        0x25: .binary(name: "presence"),
        0x26: .binary(name: "problem"),
        0x27: .binary(name: "running"),
        0x28: .binary(name: "safety"),
        0x29: .binary(name: "smoke"),
        0x2A: .binary(name: "sound"),
        0x2B: .binary(name: "tamper"),
        0x2C: .binary(name: "vibration"),
        0x2D: .binary(name: "window"),
        0x2E: m("humidity", 1, 0, "%"),
        0x2F: m("moisture", 1, 0, "%"),
        0x3A: .event(name: "button", size: 1),
        0x3C: .event(name: "dimmer", size: 2),
        0x3D: m("count", 2),
        0x3E: m("count", 4),
        0x3F: m("rotation", 2, signed: true, -1, "°"),
        0x40: m("distance", 2, 0, "mm"),
        0x41: m("distance", 2, -1, "m"),
        0x42: m("duration", 3, -3, "s"),
        0x43: m("current", 2, -3, "A"),
        0x44: m("speed", 2, -2, "m/s"),
        0x45: m("temperature", 2, signed: true, -1, "°C"),
        0x46: m("uv_index", 1, -1),
        0x47: m("volume", 2, -1, "L"),
        0x48: m("volume", 2, 0, "mL"),
        0x49: m("volume_flow_rate", 2, -3, "m³/h"),
        0x4A: m("voltage", 2, -1, "V"),
        0x4B: m("gas", 3, -3, "m³"),
        0x4C: m("gas", 4, -3, "m³"),
        0x4D: m("energy", 4, -3, "kWh"),
        0x4E: m("volume", 4, -3, "L"),
        0x4F: m("water", 4, -3, "L"),
        0x50: .timestamp(name: "timestamp"),
        0x51: m("acceleration", 2, -3, "m/s²"),
        0x52: m("gyroscope", 2, -3, "°/s"),
        0x53: .text(name: "text"),
        0x54: .raw(name: "raw"),
        0x55: m("volume_storage", 4, -3, "L"),
        0x56: m("conductivity", 2, 0, "µS/cm"),
        0x57: m("temperature", 1, signed: true, 0, "°C"),
        0x58: m("temperature", 1, signed: true, step: 35, -2, "°C"),
        0x59: m("count", 1, signed: true),
        0x5A: m("count", 2, signed: true),
        0x5B: m("count", 4, signed: true),
        0x5C: m("power", 4, signed: true, -2, "W"),
        0x5D: m("current", 2, signed: true, -3, "A"),
        0x5E: m("direction", 2, -2, "°"),
        0x5F: m("precipitation", 2, -1, "mm"),
        0x60: m("channel", 1),
        0x61: m("rotational_speed", 2, 0, "rpm"),
        0xF0: m("device_type_id", 2),
        0xF1: m("firmware_version", 4),
        0xF2: m("firmware_version", 3),
    ]

    static let buttonEvents = [
        0x00: "none", 0x01: "press", 0x02: "double_press", 0x03: "triple_press", 0x04: "long_press",
        0x05: "long_double_press", 0x06: "long_triple_press", 0x80: "hold_press",
    ]
    static let dimmerEvents = [0x00: "none", 0x01: "rotate_left", 0x02: "rotate_right"]

    /// UCUM codes for the BTHome units a FHIR template may want; units without one are passed through.
    static let ucum = [
        "°C": "Cel", "%": "%", "hPa": "hPa", "lx": "lx", "kg": "kg", "lb": "[lb_av]", "kWh": "kW.h", "W": "W", "V": "V",
        "µg/m³": "ug/m3", "ppm": "[ppm]", "°": "deg", "mm": "mm", "m": "m", "s": "s", "A": "A", "m/s": "m/s", "L": "L",
        "mL": "mL", "m³/h": "m3/h", "m³": "m3", "m/s²": "m/s2", "°/s": "deg/s", "µS/cm": "uS/cm", "rpm": "/min",
    ]
}
