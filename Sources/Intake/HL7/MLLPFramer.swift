/// MLLP (HL7 v2 Minimal Lower Layer Protocol, release 2) framing: `<VT> message <FS><CR>`.
///
/// Feed it bytes as they arrive; it returns the complete frames. A frame longer than
/// `maxFrameBytes` is not buffered: its first bytes are kept (for the ACK's MSH) and the rest
/// dropped until its end block, then it is reported as `.oversized`. Bytes between frames
/// (line ends some senders add, or noise) are skipped and counted.
package struct MLLPFramer: Sendable {
    package enum Event: Sendable, Equatable {
        case frame([UInt8])
        /// A frame above the bound: its first `headBytes` bytes, so its MSH can be answered.
        case oversized(head: [UInt8])
    }

    package static let startBlock: UInt8 = 0x0B
    package static let endBlock: UInt8 = 0x1C
    package static let carriageReturn: UInt8 = 0x0D
    static let headBytes = 2048

    package let maxFrameBytes: Int
    private var inFrame = false
    private var oversized = false
    private var buffer: [UInt8] = []
    /// Bytes seen outside any frame since the last frame started.
    package private(set) var strayBytes = 0

    package init(maxFrameBytes: Int) {
        self.maxFrameBytes = max(1, maxFrameBytes)
    }

    /// True while a frame has started and not ended: a peer that stops here is slow or half-open.
    package var isInsideFrame: Bool { inFrame }
    /// Bytes of the unfinished frame currently held (bounded by `maxFrameBytes`).
    package var bufferedBytes: Int { buffer.count }

    package mutating func feed<Bytes: Collection>(_ bytes: Bytes) -> [Event] where Bytes.Element == UInt8 {
        var events: [Event] = []
        for byte in bytes {
            if !inFrame {
                if byte == Self.startBlock {
                    inFrame = true
                    oversized = false
                    buffer.removeAll(keepingCapacity: true)
                    strayBytes = 0
                } else if byte != Self.carriageReturn && byte != 0x0A {
                    strayBytes += 1
                }
                continue
            }
            switch byte {
            case Self.endBlock:
                // The CR that should follow is skipped as a stray line end.
                inFrame = false
                events.append(oversized ? .oversized(head: buffer) : .frame(buffer))
                buffer = []
            case Self.startBlock:
                // A new start block inside a frame: the sender gave up on the previous one.
                oversized = false
                buffer.removeAll(keepingCapacity: true)
            default:
                if oversized { continue }
                if buffer.count >= maxFrameBytes {
                    oversized = true
                    buffer.removeSubrange(min(Self.headBytes, buffer.count)...)
                    continue
                }
                buffer.append(byte)
            }
        }
        return events
    }

    /// `message` framed for the wire.
    package static func frame<Bytes: Sequence>(_ message: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        [startBlock] + message + [endBlock, carriageReturn]
    }
}
