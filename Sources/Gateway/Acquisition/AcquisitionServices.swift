import ServiceLifecycle

extension Gateway {
    /// The acquisition sources the configuration asks for (Modbus pollers, BLE sessions), each a
    /// Service that delivers through `intakeSink` and reports to `acquisitionHealth`.
    /// Built before the store is prepared so that a bad device setting stops the start with a clear error.
    func acquisitionServices() throws -> [any Service] {
        var services: [any Service] = []
        services += try modbusServices()
        services += try bluetoothServices()
        services += try mqttServices()
        services += try hl7Services()
        return services
    }
}
