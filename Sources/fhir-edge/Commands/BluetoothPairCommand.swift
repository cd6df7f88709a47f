import ArgumentParser
import Bluetooth
import EdgeCore
import EdgeSystem
import FoundationEssentials
import Gateway
import JSONQuery
import Store

extension BluetoothCommand {
    struct Pair: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pair with a device and keep the bond, or list and forget bonds.",
            discussion: """
                Connects (the address type is random unless --public) and secures the link: with a \
                bond already kept for the device the link is only re-encrypted with its key (and \
                paired again when the device has lost that bond); otherwise the gateway pairs as LE \
                Secure Connections Just Works and bonds. A device \
                that offers only LE legacy pairing is refused unless --allow-legacy-pairing. Bonds \
                live in DATA_DIR/bluetooth/bonds.json (0600, keys never printed); `--forget ADDRESS` \
                removes one (pair again afterwards, and clear the bond on the device too if it \
                keeps one), `--list` prints them. With --json, one JSON object per line. When the data \
                directory holds a store, a new bond, a forgotten one and a listing are journaled \
                (actor `cli`, the device address, never a key). Exits 1 when the device cannot be \
                reached or pairing fails (the reason on stderr).
                """)

        @Argument(help: "The device address, e.g. F0:00:00:00:18:10.")
        var address: String?

        @Option(name: .long, help: "The controller: hci:N, uart:/dev/ttyX[:BAUD], or tcp:HOST:PORT.")
        var transport: String?

        @Option(name: .customLong("data-dir"), help: "Folder whose bluetooth/bonds.json keeps the bonds (default: fhir-edge-demo-data).")
        var dataDir: String = "fhir-edge-demo-data"

        @Flag(name: .long, help: "The address is a public one (default: random).")
        var `public` = false

        @Flag(name: .long, help: "Accept LE legacy pairing from a device without Secure Connections.")
        var allowLegacyPairing = false

        @Option(name: .long, help: "Give up connecting after this many seconds.")
        var timeout: Double = 10

        @Flag(name: .long, help: "Remove the bond kept for ADDRESS instead of pairing.")
        var forget = false

        @Flag(name: .long, help: "List the kept bonds instead of pairing.")
        var list = false

        @Flag(name: .long, help: "Print JSON: one object per line.")
        var json = false

        func validate() throws {
            if list {
                guard address == nil, !forget else { throw ValidationError("--list takes no address and no --forget") }
                return
            }
            guard let address else { throw ValidationError("give the device address, e.g. F0:00:00:00:18:10 (or --list)") }
            guard BluetoothAddress(address) != nil else { throw ValidationError("'\(address)' is not an address like F0:00:00:00:18:10") }
            if !forget {
                guard transport != nil else { throw ValidationError("--transport is required to pair (hci:N, uart:/dev/ttyX[:BAUD], tcp:HOST:PORT)") }
                guard timeout > 0, timeout <= 300 else { throw ValidationError("--timeout must be between 0 and 300 seconds") }
            }
        }

        func run() async throws {
            let bonds = BondStore(dataDirectory: dataDir)
            if list { return try await listBonds(bonds) }
            guard let address, let peer = BluetoothAddress(address, type: self.public ? .public : .random) else { throw ExitCode(2) }
            if forget { return try await forgetBond(of: peer, in: bonds) }
            try await pair(with: peer, bonds: bonds)
        }

        private func pair(with peer: BluetoothAddress, bonds: BondStore) async throws {
            let transportAddress: TransportAddress
            do {
                transportAddress = try TransportAddress(parsing: transport ?? "")
            } catch {
                throw ValidationError("\(error)")
            }
            var configuration = HostConfiguration()
            configuration.handlesSecurity = true
            let host: BluetoothHost
            do {
                host = try await BluetoothHost.open(transportAddress, configuration: configuration)
            } catch {
                throw failed("\(error)")
            }
            let outcome: SecurityOutcome
            do {
                let connection = try await host.connect(to: peer, timeout: .milliseconds(Int(timeout * 1000)))
                let security = LinkSecurity(channel: connection, bonds: bonds, policy: PairingPolicy(allowLegacyPairing: allowLegacyPairing, repairWhenKeyMissing: true))
                async let events: Void = security.run()
                let result: Result<SecurityOutcome, PairingError>
                do {
                    result = .success(try await security.secure())
                } catch {
                    result = .failure(error)
                }
                await connection.disconnect()
                await events
                outcome = try result.get()
            } catch {
                await host.close()
                throw failed("\(error)")
            }
            await host.close()
            if case .paired(let bond, true) = outcome {
                await journal("bluetooth.bonded", bond.address, details: [
                    "secureConnections": .bool(bond.secureConnections), "keySize": .int(Int64(bond.keySize)),
                ])
            }
            if json {
                print(JSONWriter().string(.object(Self.json(outcome.bond, outcome: outcome, file: bonds.path))))
            } else {
                let bond = outcome.bond
                switch outcome {
                case .reencrypted:
                    print("\(bond.address): already bonded; the link was encrypted with the kept key (no pairing). Forget it with --forget to pair again.")
                case .paired(_, let bonded):
                    let kind = bond.secureConnections ? "LE Secure Connections" : "LE legacy pairing"
                    print("\(bond.address): paired (\(kind), Just Works, key size \(bond.keySize))"
                          + (bonded ? "; bond kept in \(bonds.path)" : "; the device did not bond, nothing kept"))
                }
            }
        }

        private func listBonds(_ bonds: BondStore) async throws {
            let all: [Bond]
            do {
                all = try await bonds.allBonds()
            } catch {
                throw failed("\(error)")
            }
            await journal("access.bluetooth.bonds", nil, details: ["bonds": .int(Int64(all.count))])
            if all.isEmpty, !json { print("no bonds kept in \(bonds.path)") }
            for bond in all {
                if json {
                    print(JSONWriter().string(.object(Self.json(bond, outcome: nil, file: nil))))
                } else {
                    let kind = bond.secureConnections ? "LE Secure Connections" : "LE legacy"
                    let paired = Timestamp(millisecondsSinceEpoch: bond.pairedAtMilliseconds).iso8601
                    print("\(bond.address) (\(bond.address.type))  \(kind)  key size \(bond.keySize)  paired \(paired)"
                          + (bond.identityResolvingKey != nil ? "  resolves private addresses" : ""))
                }
            }
        }

        private func forgetBond(of peer: BluetoothAddress, in bonds: BondStore) async throws {
            let removed: Bool
            do {
                removed = try await bonds.remove(peer)
            } catch {
                throw failed("\(error)")
            }
            if removed { await journal("bluetooth.bondForgotten", peer) }
            if json {
                print(JSONWriter().string(.object(["address": .string(peer.description), "forgotten": .bool(removed)])))
            } else {
                print(removed ? "\(peer): bond removed" : "\(peer): no bond was kept")
            }
        }

        /// A bond's public facts (never its keys).
        static func json(_ bond: Bond, outcome: SecurityOutcome?, file: String?) -> JSONObject {
            var object: JSONObject = [
                "address": .string(bond.address.description), "addressType": .string(bond.address.type.description),
            ]
            switch outcome {
            case .reencrypted?: object["outcome"] = "reencrypted"
            case .paired(_, let bonded)?:
                object["outcome"] = "paired"
                object["bonded"] = .bool(bonded)
            case nil: break
            }
            object["secureConnections"] = .bool(bond.secureConnections)
            object["authenticated"] = .bool(bond.authenticated)
            object["keySize"] = .int(Int64(bond.keySize))
            object["resolvesPrivateAddresses"] = .bool(bond.identityResolvingKey != nil)
            object["pairedAt"] = .string(Timestamp(millisecondsSinceEpoch: bond.pairedAtMilliseconds).iso8601)
            if let file { object["bondFile"] = .string(file) }
            return object
        }

        /// Journals `kind` when the data directory holds a store (pairing may come before the
        /// daemon ever ran there, and must not create one).
        private func journal(_ kind: String, _ device: BluetoothAddress?, details: JSONObject = JSONObject()) async {
            let path = GatewayConfiguration.storePath(inDataDirectory: dataDir)
            guard FileManager.default.fileExists(atPath: path), let session = try? OperatorSession(path: path) else { return }
            defer { session.close() }
            await session.journalAccess(kind, subjects: device.map { [JournalSubject.device($0.description)] } ?? [], details: details)
        }

        /// Says why on stderr; the command exits 1.
        private func failed(_ message: String) -> ExitCode {
            StandardStream.error.write("fhir-edge ble pair: \(message)\n")
            return ExitCode(1)
        }
    }
}
