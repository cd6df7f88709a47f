public import EdgeCore

/// One normalized reading: what a device-content template extracts from a device message
/// (the MedTech "normalized message"). All property values are strings, as upstream.
public struct Measurement: Hashable, Sendable {
    public struct Property: Hashable, Sendable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var type: String
    public var occurrenceTime: Timestamp
    /// When the gateway received the message; breaks ties between equal occurrence times.
    public var ingestionTime: Timestamp?
    /// The message's place in the gateway's receive order (the inbox row id): breaks ties between
    /// equal ingestion times, so of two messages received in the same millisecond or posted in
    /// one request the later one wins, as upstream's "latest ingestion wins" intends.
    public var receiveSequence: Int64?
    public var deviceId: String
    public var patientId: String?
    public var encounterId: String?
    public var correlationId: String?
    public var properties: [Property]

    public init(
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
