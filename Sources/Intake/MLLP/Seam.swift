// Local copy of the intake seam until it lands in EdgeCore; removed on merge.
public import EdgeCore

public struct DeviceMessage: Sendable, Equatable {
    public var profile: ProfileID
    public var transport: Transport
    public var sourceID: String
    public var deviceID: String?
    public var payload: [UInt8]
    public var deliveryKey: String?
    public init(profile: ProfileID, transport: Transport, sourceID: String, deviceID: String? = nil, payload: [UInt8], deliveryKey: String? = nil) {
        self.profile = profile
        self.transport = transport
        self.sourceID = sourceID
        self.deviceID = deviceID
        self.payload = payload
        self.deliveryKey = deliveryKey
    }
}

public struct IntakeRefusal: Error, Sendable, Equatable {
    public var code: String
    public var reason: String
    public init(code: String, reason: String) {
        self.code = code
        self.reason = reason
    }
}

public enum IntakeDecision: Sendable, Equatable {
    case accepted(stored: Int, duplicates: Int)
    case rejected(IntakeRefusal)
    case retryLater(IntakeRefusal, after: Duration)
}

public protocol MessageSink: Sendable {
    func deliver(_ messages: [DeviceMessage]) async -> IntakeDecision
}

extension Transport {
    public static let mllp = Transport(rawValue: "mllp")
}
