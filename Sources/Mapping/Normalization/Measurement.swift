package import EdgeCore

/// One normalized reading: what a device-content template extracts from a device message
/// (the MedTech "normalized message"). All property values are strings, as upstream.
package struct Measurement: Hashable, Sendable {
    package struct Property: Hashable, Sendable {
        package var name: String
        package var value: String
        package init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    package var type: String
    package var occurrenceTime: Timestamp
    /// When the gateway received the message; breaks ties between equal occurrence times.
    package var ingestionTime: Timestamp?
    /// The message's place in the gateway's receive order (the inbox row id): breaks ties between
    /// equal ingestion times, so of two messages received in the same millisecond or posted in
    /// one request the later one wins, as upstream's "latest ingestion wins" intends.
    package var receiveSequence: Int64?
    package var deviceId: String
    package var patientId: String?
    package var encounterId: String?
    package var correlationId: String?
    package var properties: [Property]

    package init(
        type: String, occurrenceTime: Timestamp, ingestionTime: Timestamp? = nil, receiveSequence: Int64? = nil, deviceId: String,
        patientId: String? = nil, encounterId: String? = nil, correlationId: String? = nil,
        properties: [Property] = []
    ) {
        self.type = type
        self.occurrenceTime = occurrenceTime
        self.ingestionTime = ingestionTime
        self.receiveSequence = receiveSequence
        self.deviceId = deviceId
        self.patientId = patientId
        self.encounterId = encounterId
        self.correlationId = correlationId
        self.properties = properties
    }
}
