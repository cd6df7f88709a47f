import ArgumentParser
import FoundationEssentials
import JSONQuery
import Modbus

struct ModbusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modbus",
        abstract: "Read Modbus devices directly, for commissioning and troubleshooting.",
        subcommands: [Read.self, Poll.self])
}

extension ModbusCommand {
    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read registers or bits from one Modbus unit and print the decoded values.",
            discussion: """
                Addresses are 0-based PDU addresses as sent on the wire (register 40001 in a \
                1-based manual is holding address 0). --count is the number of values of --type \
                (default: uint16 for registers, bit for coils and discrete inputs); a value of a \
                32- or 64-bit type or a string spans several registers. Values are decoded from the \
                raw register words with --byte-order in Telegraf's names (ABCD, DCBA, BADC, CDAB; \
                ABCDEFGH, HGFEDCBA, BADCFEHG, GHEFCDAB for 64-bit types), then scaled: \
                value × --scale + --offset.

                Prints one value per line, or {"values": [...]} with --json. Exits 1 when the device \
                answers with an exception (its name on stderr, e.g. "illegal data address"), when \
                it does not answer in time ("timeout"), or when the connection fails; 2 on usage errors.
                """)

        @OptionGroup var connection: ModbusConnectionOptions

        @Option(name: .long, help: "Unit (slave) id: 1-247 on RTU, 0-255 on TCP.")
        var unit: Int

        @Option(name: .long, help: "holding, input, coil or discrete.")
        var table: String

        @Option(name: .long, help: "0-based PDU address of the first register or bit.")
        var address: Int

        @Option(name: .long, help: "Number of values to read.")
        var count: Int = 1

        @Option(name: .long, help: "int16, uint16, int32, uint32, int64, uint64, float32, float64, string[N], bit or bit[N].")
        var type: String?

        @Option(name: .customLong("byte-order"), help: "Wire order of each value's bytes: ABCD (default), DCBA, BADC, CDAB, or the 64-bit names.")
        var byteOrder: String = "ABCD"

        @Option(name: .long, help: "Factor applied to each numeric value.")
        var scale: Double = 1

        @Option(name: .long, help: "Added to each numeric value after scaling.")
        var offset: Double = 0

        @Option(name: .customLong("timeout-ms"), help: "Response timeout in milliseconds.")
        var timeoutMilliseconds: Int = 1000

        @Flag(name: .long, help: "Print {\"values\": [...]}.")
        var json = false

        func run() async throws {
            let plan: ReadPlan
            let endpoint: ModbusEndpoint
            do {
                endpoint = try connection.endpoint()
                plan = try readPlan()
            } catch let failure as UsageFailure {
                standardError("fhir-edge: \(failure.description)")
                throw ExitCode(2)
            }
            let link = LibmodbusLink(endpoint)
            let reply: ModbusReply
            do {
                reply = try await link.read(plan.request, timeout: .milliseconds(timeoutMilliseconds))
            } catch {
                await link.close()
                standardError("fhir-edge: \(error.message)")
                throw ExitCode(1)
            }
            await link.close()
            let values: [RegisterValue]
            do {
                values = try plan.decode(reply)
            } catch {
                standardError("fhir-edge: \(endpoint) \(plan.request): \(error)")
                throw ExitCode(1)
            }
            if json {
                let array = JSONValue.array(values.map(\.json))
                print(JSONWriter().string(.object(JSONObject([("values", array)]))))
            } else {
                for value in values { print(value.description) }
            }
        }

        /// The request and how to decode its reply.
        struct ReadPlan {
            var request: ModbusReadRequest
            var type: RegisterValueType
            var order: ByteOrder
            var count: Int
            var scale: Double
            var offset: Double

            func decode(_ reply: ModbusReply) throws -> [RegisterValue] {
                switch reply {
                case .bits(let bits):
                    return try bits.prefix(count).map { bit throws(RegisterDecodingError) in try RegisterDecoder.decode(bit: bit, type: type) }
                case .registers(let words):
                    let width = type.registerCount
                    guard words.count >= width * count else {
                        throw RegisterDecodingError("the reply holds \(words.count) register(s), \(width * count) expected")
                    }
                    return try (0..<count).map { index throws(RegisterDecodingError) in
                        let slice = words[(index * width)..<((index + 1) * width)]
                        return try RegisterDecoder.decode(words: slice, type: type, order: order).scaled(by: scale, offset: offset)
                    }
                }
            }
        }

        func readPlan() throws -> ReadPlan {
            guard let table = ModbusTable(rawValue: table.lowercased()) else {
                throw UsageFailure("--table must be holding, input, coil or discrete, not '\(self.table)'")
            }
            guard let unit = UInt8(exactly: unit), connection.rtu == nil || unit <= 247 else {
                throw UsageFailure("--unit must be 0-247 on RTU and 0-255 on TCP, not \(self.unit)")
            }
            guard (0...65535).contains(address) else {
                throw UsageFailure("--address is a 0-based PDU address, 0-65535, not \(address) (a 1-based 4xxxx number minus 40001 gives the holding address)")
            }
            let type: RegisterValueType
            if let name = self.type {
                guard let parsed = RegisterValueType(parsing: name) else {
                    throw UsageFailure("--type '\(name)' is not one of int16, uint16, int32, uint32, int64, uint64, float32, float64, string[N], bit, bit[N]")
                }
                type = parsed
            } else {
                type = table.holdsWords ? .uint16 : .bit(index: nil)
            }
            if table.holdsWords == type.isTableBit {
                throw UsageFailure(table.holdsWords
                    ? "--type bit reads a coil or discrete input; for a bit of a register use bit[N]"
                    : "\(table.rawValue) holds bits: use --type bit (or leave --type out)")
            }
            guard let order = ByteOrder(parsing: byteOrder) else {
                throw UsageFailure("--byte-order '\(byteOrder)' is not one of ABCD, DCBA, BADC, CDAB, ABCDEFGH, HGFEDCBA, BADCFEHG, GHEFCDAB")
            }
            guard count >= 1 else { throw UsageFailure("--count must be at least 1") }
            let span = count * type.registerCount
            let limit = table.holdsWords ? 125 : 2000
            guard span <= limit else {
                throw UsageFailure("\(count) value(s) of \(type) span \(span) \(table.holdsWords ? "registers" : "bits"); one read takes at most \(limit)")
            }
            guard address + span <= 65536 else { throw UsageFailure("--address \(address) + \(span) passes the end of the table") }
            guard timeoutMilliseconds >= 1 else { throw UsageFailure("--timeout-ms must be at least 1") }
            guard scale.isFinite, offset.isFinite else { throw UsageFailure("--scale and --offset must be finite numbers") }
            let request = ModbusReadRequest(unit: unit, table: table, address: UInt16(address), count: UInt16(span))
            return ReadPlan(request: request, type: type, order: order, count: count, scale: scale, offset: offset)
        }
    }
}

/// Where a Modbus command connects: `--tcp HOST:PORT` or `--rtu DEVICE` with its serial settings.
struct ModbusConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "Modbus TCP server, HOST:PORT ([IPv6]:PORT).")
    var tcp: String?

    @Option(name: .long, help: "Serial device of an RTU line, e.g. /dev/ttyUSB0.")
    var rtu: String?

    @Option(name: .long, help: "RTU: baud rate.")
    var baud: Int = 19200

    @Option(name: .long, help: "RTU: parity N, E or O.")
    var parity: String = "E"

    @Option(name: .customLong("data-bits"), help: "RTU: data bits.")
    var dataBits: Int = 8

    @Option(name: .customLong("stop-bits"), help: "RTU: stop bits.")
    var stopBits: Int = 1

    func endpoint() throws -> ModbusEndpoint {
        switch (tcp, rtu) {
        case (let address?, nil):
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
                throw UsageFailure("--tcp takes HOST:PORT, e.g. 192.0.2.10:502, not '\(address)'")
            }
            var host = String(address[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw UsageFailure("--tcp needs a host before the port") }
            return .tcp(host: host, port: port)
        case (nil, let device?):
            guard let parsed = ModbusSerialLine.Parity(rawValue: parity.uppercased()) else {
                throw UsageFailure("--parity must be N, E or O, not '\(parity)'")
            }
            let line = ModbusSerialLine(device: device, baud: baud, parity: parsed, dataBits: dataBits, stopBits: stopBits)
            if let problem = line.problem { throw UsageFailure("--rtu \(device): \(problem)") }
            return .rtu(line)
        case (nil, nil):
            throw UsageFailure("say where the device is: --tcp HOST:PORT or --rtu DEVICE")
        case (_?, _?):
            throw UsageFailure("--tcp and --rtu exclude each other")
        }
    }
}
