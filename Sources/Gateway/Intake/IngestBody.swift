import EdgeCore
import JSONQuery

/// Splits an ingest request body into device messages: one JSON object, a JSON array of
/// objects, or NDJSON (one object per line). Each message keeps the bytes it was received as.
enum IngestBody {
    enum Format: Sendable {
        case json
        case ndjson

        /// nil for a media type the API does not take (415).
        init?(contentType: String?) {
            guard let contentType else { return nil }
            let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces.lowercased() } ?? ""
            switch mediaType {
            case "application/json": self = .json
            case "application/x-ndjson", "application/ndjson": self = .ndjson
            default: return nil
            }
        }
    }

    /// Why a body was refused, saying where: line and column, and which element or line.
    struct Problem: Error, Sendable, Equatable {
        var message: String
        var line: Int?
        var column: Int?
        /// 0-based index of the array element, or of the NDJSON message.
        var element: Int?

        var json: JSONValue {
            var object: JSONObject = ["error": "invalid-body", "message": .string(message)]
            if let line { object["line"] = .int(Int64(line)) }
            if let column { object["column"] = .int(Int64(column)) }
            if let element { object["element"] = .int(Int64(element)) }
            return .object(object)
        }
    }

    struct Message: Sendable {
        var json: JSONValue
        var bytes: [UInt8]
    }

    static func split(_ body: [UInt8], format: Format, maxMessages: Int = 100_000) throws(Problem) -> [Message] {
        switch format {
        case .json: return try splitJSON(body, maxMessages: maxMessages)
        case .ndjson: return try splitLines(body, maxMessages: maxMessages)
        }
    }

    private static func splitJSON(_ body: [UInt8], maxMessages: Int) throws(Problem) -> [Message] {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: body)
        } catch {
            throw Problem(message: "malformed JSON: \(error.reason)", line: error.line, column: error.column)
        }
        switch value {
        case .object:
            return [Message(json: value, bytes: Array(trimmed(body[...])))]
        case .array(let elements):
            guard !elements.isEmpty else { throw Problem(message: "the array holds no messages") }
            guard elements.count <= maxMessages else {
                throw Problem(message: "at most \(maxMessages) messages per request")
            }
            var messages: [Message] = []
            messages.reserveCapacity(elements.count)
            let spans = elementSpans(body)
            for (index, element) in elements.enumerated() {
                guard case .object = element else {
                    throw Problem(message: "element \(index) is \(element.typeName); each message must be a JSON object", element: index)
                }
                messages.append(Message(json: element, bytes: Array(body[spans[index]])))
            }
            return messages
        default:
            throw Problem(message: "the body is \(value.typeName); send a JSON object, an array of objects or NDJSON")
        }
    }

    private static func splitLines(_ body: [UInt8], maxMessages: Int) throws(Problem) -> [Message] {
        var messages: [Message] = []
        var start = 0
        var line = 1
        let newline = UInt8(ascii: "\n")
        while start < body.count {
            var end = start
            while end < body.count, body[end] != newline { end += 1 }
            var last = end
            while last > start, isWhitespace(body[last - 1]) { last -= 1 }
            var first = start
            while first < last, isWhitespace(body[first]) { first += 1 }
            if first < last {
                let slice = body[first..<last]
                let value: JSONValue
                do {
                    value = try JSONValue(parsing: slice)
                } catch {
                    throw Problem(
                        message: "malformed JSON on line \(line): \(error.reason)", line: line,
                        column: error.column + (first - start), element: messages.count)
                }
                guard case .object = value else {
                    throw Problem(message: "line \(line) holds \(value.typeName); each line must be one JSON object",
                                  line: line, column: 1 + first - start, element: messages.count)
                }
                guard messages.count < maxMessages else { throw Problem(message: "at most \(maxMessages) messages per request") }
                messages.append(Message(json: value, bytes: Array(slice)))
            }
            start = end + 1
            line += 1
        }
        guard !messages.isEmpty else { throw Problem(message: "the body holds no messages") }
        return messages
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, isWhitespace(first) { slice = slice.dropFirst() }
        while let last = slice.last, isWhitespace(last) { slice = slice.dropLast() }
        return slice
    }

    /// The byte ranges of the elements of a top-level array that has been parsed already, so each
    /// message is stored as the bytes received (numbers, escapes and all), not re-serialised.
    static func elementSpans(_ body: [UInt8]) -> [Range<Int>] {
        var spans: [Range<Int>] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start: Int?
        for (index, byte) in body.enumerated() {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth == 1 { start = index + 1; continue }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 1, let first = start {
                    let span = trimmed(body[first..<index])
                    if !span.isEmpty { spans.append(span.startIndex..<span.endIndex) }
                    start = nil
                }
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1, let first = start {
                    let span = trimmed(body[first..<index])
                    spans.append(span.startIndex..<span.endIndex)
                    start = index + 1
                }
            default:
                break
            }
        }
        return spans
    }
}
