/// Host-to-controller ACL flow control: L2CAP PDUs are cut into fragments of the controller's LE
/// buffer size, and a fragment goes out only while the controller has a free buffer (credits come
/// back with Number Of Completed Packets, or when a link's buffers are flushed by disconnection).
struct ACLFlow: Sendable {
    private(set) var fragmentLength: Int
    private(set) var totalBuffers: Int
    private(set) var credits: Int
    private var queue: [(handle: UInt16, boundary: UInt8, data: [UInt8])] = []
    private var queueStart = 0
    private var inFlight: [UInt16: Int] = [:]

    init(fragmentLength: Int = 27, buffers: Int = 1) {
        self.fragmentLength = max(fragmentLength, 1)
        totalBuffers = max(buffers, 1)
        credits = totalBuffers
    }

    var queuedFragments: Int { queue.count - queueStart }

    /// Queues one L2CAP PDU (header included) for `handle`; returns the fragments to send now.
    mutating func enqueue(handle: UInt16, pdu: [UInt8]) -> [H4Packet] {
        var offset = 0
        var first = true
        repeat {
            let end = min(offset + fragmentLength, pdu.count)
            // Host to controller: 0b00 starts a non-flushable PDU, 0b01 continues it.
            queue.append((handle, first ? 0b00 : 0b01, Array(pdu[offset..<end])))
            first = false
            offset = end
        } while offset < pdu.count
        return drain()
    }

    /// Number Of Completed Packets: buffers are free again.
    mutating func completed(handle: UInt16, count: Int) -> [H4Packet] {
        let outstanding = inFlight[handle] ?? 0
        let returned = min(count, outstanding)
        inFlight[handle] = outstanding - returned
        credits = min(credits + returned, totalBuffers)
        return drain()
    }

    /// The link is gone: its queued fragments are dropped and the controller has flushed its
    /// buffers, so their credits come back.
    mutating func disconnected(handle: UInt16) -> [H4Packet] {
        credits = min(credits + (inFlight.removeValue(forKey: handle) ?? 0), totalBuffers)
        let remaining = queue[queueStart...].filter { $0.handle != handle }
        queue = Array(remaining)
        queueStart = 0
        return drain()
    }

    private mutating func drain() -> [H4Packet] {
        var packets: [H4Packet] = []
        while credits > 0, queueStart < queue.count {
            let fragment = queue[queueStart]
            queueStart += 1
            credits -= 1
            inFlight[fragment.handle, default: 0] += 1
            packets.append(.acl(handle: fragment.handle, boundary: fragment.boundary, data: fragment.data))
        }
        if queueStart == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueStart = 0
        }
        return packets
    }
}

/// Controller-to-host reassembly of L2CAP PDUs from ACL fragments, per link: a start fragment
/// (0b10, or 0b00) opens a PDU, continuations (0b01) extend it; a continuation with nothing
/// open, or a start while one is open, is a protocol error (counted; the partial PDU is dropped).
struct L2CAPReassembler: Sendable {
    struct PDU: Sendable, Equatable {
        var channel: UInt16
        var payload: [UInt8]
    }

    private var partial: [UInt16: [UInt8]] = [:]
    private(set) var droppedFragments = 0

    mutating func receive(handle: UInt16, boundary: UInt8, data: [UInt8]) -> PDU? {
        var buffer: [UInt8]
        if boundary == 0b01 {
            guard let open = partial[handle] else {
                droppedFragments += 1
                return nil
            }
            buffer = open + data
        } else {
            if partial[handle] != nil { droppedFragments += 1 }
            buffer = data
        }
        guard buffer.count >= 4, let length = buffer.u16(at: 0), let channel = buffer.u16(at: 2) else {
            partial[handle] = buffer
            return nil
        }
        if buffer.count < 4 + Int(length) {
            partial[handle] = buffer
            return nil
        }
        partial[handle] = nil
        if buffer.count > 4 + Int(length) { droppedFragments += 1 }
        return PDU(channel: channel, payload: Array(buffer[4..<(4 + Int(length))]))
    }

    mutating func disconnected(handle: UInt16) {
        partial[handle] = nil
    }
}

/// The LE fixed channels.
enum L2CAPChannel {
    static let attribute: UInt16 = 0x0004
    static let signalling: UInt16 = 0x0005
    static let security: UInt16 = 0x0006

    static func frame(channel: UInt16, payload: [UInt8]) -> [UInt8] {
        le16(UInt16(truncatingIfNeeded: payload.count)) + le16(channel) + payload
    }
}
