@testable import Bluetooth
import EdgeCore
import XCTest

/// The central's security state machine driven by events, against a responder written from the
/// specification with the same toolbox (whose functions the sample data pins down).
final class PairingStateMachineTests: XCTestCase {
    typealias Machine = SecurityStateMachine

    static let gateway = BluetoothAddress("00:BE:EF:00:00:01", type: .public)!
    static let cuff = BluetoothAddress("F0:00:00:00:18:10", type: .random)!
    static let irk = SecretKey(octets: hex("000102030405060708090a0b0c0d0e0f"))!

    func secrets() throws -> PairingSecrets {
        PairingSecrets(
            keyPair: try PairingKeyPair(privateKeyWireOrder: SecurityFunctionsTests.debugPrivateKey),
            nonce: hex("abae2b71ecb2ffff 3e7377d15484cbd5"), localIRK: Self.irk)
    }

    func machine(policy: PairingPolicy = .standard, bond: Bond? = nil) throws -> Machine {
        Machine(local: Self.gateway, peer: Self.cuff, policy: policy, bond: bond, secrets: try secrets(), startedAtMilliseconds: 1_700_000_000_000)
    }

    // MARK: Secure Connections

    func testSecureConnectionsJustWorksBondsAndDistributesIdentities() throws {
        var central = try machine()
        var responder = try SpecResponder(central: Self.gateway, peripheral: Self.cuff)
        let outcome = try run(&central, &responder)
        guard case .paired(let bond, let bonded) = outcome else { return XCTFail("not paired: \(outcome)") }
        XCTAssertTrue(bonded)
        XCTAssertEqual(bond.address, responder.identity)
        XCTAssertEqual(bond.longTermKey.octets, responder.ltk)
        XCTAssertEqual(bond.identityResolvingKey?.octets, responder.irk)
        XCTAssertEqual(bond.ediv, 0)
        XCTAssertEqual(bond.rand, 0)
        XCTAssertEqual(bond.keySize, 16)
        XCTAssertTrue(bond.secureConnections)
        XCTAssertFalse(bond.authenticated)
        // The gateway distributed the address it connects with, so the device can find the bond.
        XCTAssertEqual(responder.receivedIdentity, Self.gateway)
        XCTAssertEqual(responder.receivedIRK, Self.irk.octets)
        XCTAssertEqual(responder.request?.authentication.contains(.secureConnections), true)
        XCTAssertEqual(responder.request?.ioCapability, .noInputNoOutput)
        XCTAssertEqual(responder.request?.maximumKeySize, 16)
        XCTAssertTrue(central.isFinished)
        XCTAssertEqual(central.handle(.received(.pairingRandom(hex("00")))), [])
    }

    func testAShorterKeySizeMasksTheLTK() throws {
        var central = try machine()
        var responder = try SpecResponder(central: Self.gateway, peripheral: Self.cuff)
        responder.maximumKeySize = 10
        guard case .paired(let bond, _) = try run(&central, &responder) else { return XCTFail("not paired") }
        XCTAssertEqual(bond.keySize, 10)
        XCTAssertEqual(Array(bond.longTermKey.octets.suffix(6)), [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(bond.longTermKey.octets, responder.ltk)
    }

    func testAKeySizeBelowSevenIsRefused() throws {
        var central = try machine()
        _ = central.handle(.secure)
        let actions = central.handle(.received(.pairingResponse(SpecResponder.features(keySize: 6))))
        XCTAssertEqual(actions.first, .send(.pairingFailed(.encryptionKeySize)))
        XCTAssertEqual(failure(actions)?.kind, .refused(.encryptionKeySize))
    }

    func testAWrongConfirmValueFailsThePairing() throws {
        var central = try machine()
        var responder = try SpecResponder(central: Self.gateway, peripheral: Self.cuff)
        responder.corruptConfirm = true
        XCTAssertThrowsError(try run(&central, &responder)) { error in
            XCTAssertEqual((error as? PairingError)?.kind, .refused(.confirmValueFailed))
        }
        XCTAssertEqual(responder.received.last, .pairingFailed(.confirmValueFailed))
    }

    func testAWrongDHKeyCheckFailsThePairing() throws {
        var central = try machine()
        var responder = try SpecResponder(central: Self.gateway, peripheral: Self.cuff)
        responder.corruptDHKeyCheck = true
        XCTAssertThrowsError(try run(&central, &responder)) { error in
            XCTAssertEqual((error as? PairingError)?.kind, .refused(.dhKeyCheckFailed))
        }
    }

    func testAPublicKeyOffTheCurveOrOursReflectedIsRefused() throws {
        for key in [[UInt8](repeating: 1, count: 64), SecurityFunctionsTests.debugPublicKey] {
            var central = try machine()
            _ = central.handle(.secure)
            _ = central.handle(.received(.pairingResponse(SpecResponder.features())))
            let actions = central.handle(.received(.pairingPublicKey(key)))
            XCTAssertEqual(actions.first, .send(.pairingFailed(.dhKeyCheckFailed)))
        }
    }

    func testADeviceUsingThePublicDebugKeyIsRefused() throws {
        var central = Machine(
            local: Self.gateway, peer: Self.cuff, policy: .standard, bond: nil,
            secrets: PairingSecrets(keyPair: .generate(), nonce: hex("abae2b71ecb2ffff 3e7377d15484cbd5"), localIRK: Self.irk),
            startedAtMilliseconds: 0)
        _ = central.handle(.secure)
        _ = central.handle(.received(.pairingResponse(SpecResponder.features())))
        let actions = central.handle(.received(.pairingPublicKey(SecurityFunctionsTests.debugPublicKey)))
        XCTAssertEqual(actions.first, .send(.pairingFailed(.authenticationRequirements)))
        XCTAssertTrue(failure(actions)?.message.contains("debug key") == true)
        XCTAssertEqual(PairingKeyPair.debugPublicKey, SecurityFunctionsTests.debugPublicKey)
    }

    func testPairingFailedFromTheDeviceIsNamed() throws {
        var central = try machine()
        _ = central.handle(.secure)
        let actions = central.handle(.received(.pairingFailed(.authenticationRequirements)))
        XCTAssertEqual(actions.count, 1)
        let error = try XCTUnwrap(failure(actions))
        XCTAssertEqual(error.kind, .rejectedByDevice(.authenticationRequirements))
        XCTAssertTrue(error.message.contains("authentication requirements (0x03)"), error.message)
        XCTAssertTrue(error.message.contains("F0:00:00:00:18:10"), error.message)
    }

    func testOutOfOrderAndUnknownPDUsFailThePairing() throws {
        var central = try machine()
        _ = central.handle(.secure)
        XCTAssertEqual(central.handle(.received(.pairingRandom(hex("00112233445566778899aabbccddeeff")))).first, .send(.pairingFailed(.unspecifiedReason)))
        var other = try machine()
        _ = other.handle(.secure)
        XCTAssertEqual(other.handle(.received(.unknown(code: 0x42))).first, .send(.pairingFailed(.commandNotSupported)))
    }

    func testTheSMPTimeoutEndsTheProcedureForGood() throws {
        var central = try machine()
        _ = central.handle(.secure)
        let actions = central.handle(.timedOut)
        XCTAssertEqual(failure(actions)?.kind, .timeout)
        XCTAssertFalse(actions.contains { if case .send = $0 { true } else { false } }, "no SMP PDU after a timeout")
        XCTAssertEqual(central.handle(.received(.pairingResponse(SpecResponder.features()))), [])
        XCTAssertEqual(central.handle(.secure), [])
    }

    func testADisconnectionEndsTheProcedure() throws {
        var central = try machine()
        _ = central.handle(.secure)
        XCTAssertEqual(failure(central.handle(.disconnected(reason: 0x13)))?.kind, .disconnected(reason: 0x13))
    }

    func testASecurityRequestFromTheDeviceStartsPairing() throws {
        var central = try machine()
        let actions = central.handle(.received(.securityRequest([.bonding, .secureConnections])))
        guard case .send(.pairingRequest(let request))? = actions.first else { return XCTFail("\(actions)") }
        XCTAssertTrue(request.authentication.requestsBonding)
        XCTAssertEqual(request.initiatorKeys, .identityKey)
        XCTAssertEqual(request.responderKeys, [.encryptionKey, .identityKey])
        XCTAssertEqual(central.handle(.received(.securityRequest([.bonding]))), [], "a second request while pairing is ignored")
    }

    // MARK: Legacy pairing

    func testALegacyOnlyDeviceIsRefusedUnlessTheProfileAllowsIt() throws {
        var central = try machine()
        _ = central.handle(.secure)
        let actions = central.handle(.received(.pairingResponse(SpecResponder.features(secureConnections: false))))
        XCTAssertEqual(actions.first, .send(.pairingFailed(.authenticationRequirements)))
        let error = try XCTUnwrap(failure(actions))
        XCTAssertEqual(error.kind, .refused(.authenticationRequirements))
        XCTAssertTrue(error.message.contains("allowLegacyPairing"), error.message)
    }

    func testLegacyJustWorksWhenAllowedKeepsTheDistributedLTK() throws {
        var central = try machine(policy: PairingPolicy(allowLegacyPairing: true))
        var responder = try SpecResponder(central: Self.gateway, peripheral: Self.cuff)
        responder.secureConnections = false
        guard case .paired(let bond, true) = try run(&central, &responder) else { return XCTFail("not bonded") }
        XCTAssertFalse(bond.secureConnections)
        XCTAssertEqual(bond.longTermKey.octets, responder.legacyLTK)
        XCTAssertEqual(bond.ediv, 0x1234)
        XCTAssertEqual(bond.rand, 0x0807_0605_0403_0201)
        XCTAssertEqual(responder.encryptedWith, responder.stk, "the link is first encrypted with the STK")
    }

    // MARK: Re-encryption

    func bond() -> Bond {
        Bond(address: Self.cuff, longTermKey: SecretKey(octets: hex("380a7594b522059823cdd76911798669"))!, pairedAtMilliseconds: 0)
    }

    func testABondedDeviceIsReencryptedWithTheStoredKeyWithoutPairing() throws {
        var central = try machine(bond: bond())
        XCTAssertEqual(central.handle(.secure), [.startEncryption(key: bond().longTermKey, ediv: 0, rand: 0)])
        XCTAssertEqual(central.handle(.encryptionChanged(status: 0, enabled: true)), [.succeeded(.reencrypted(bond()))])
    }

    func testALostBondOnTheDeviceIsAClearError() throws {
        var central = try machine(bond: bond())
        _ = central.handle(.secure)
        let error = try XCTUnwrap(failure(central.handle(.encryptionChanged(status: 0x06, enabled: false))))
        XCTAssertEqual(error.kind, .keyMissing)
        XCTAssertTrue(error.message.contains("fhir-edge ble pair F0:00:00:00:18:10"), error.message)

        var micFailure = try machine(bond: bond())
        _ = micFailure.handle(.secure)
        XCTAssertEqual(failure(micFailure.handle(.disconnected(reason: 0x3D)))?.kind, .keyMissing)
    }

    func testALostBondIsRepairedWhenThePolicySaysSo() throws {
        var central = try machine(policy: PairingPolicy(repairWhenKeyMissing: true), bond: bond())
        _ = central.handle(.secure)
        let actions = central.handle(.encryptionChanged(status: 0x06, enabled: false))
        guard case .send(.pairingRequest)? = actions.first else { return XCTFail("\(actions)") }
    }

    func testErrorsAndBondsNeverPrintKeys() throws {
        let key = hex("380a7594b522059823cdd76911798669")
        let text = "\(bond()) \(String(reflecting: bond())) \(bond().longTermKey)"
        XCTAssertFalse(text.lowercased().contains("380a7594"), text)
        XCTAssertFalse(text.contains("\(key)"), text)
    }

    // MARK: PDUs

    func testPDUsRoundTripAndBadLengthsAreErrors() throws {
        let pdus: [SecurityManagerPDU] = [
            .pairingRequest(SpecResponder.features()), .pairingResponse(SpecResponder.features(keySize: 7)),
            .pairingConfirm(Array(0..<16)), .pairingRandom(Array(16..<32)), .pairingFailed(.busy),
            .encryptionInformation(longTermKey: Array(0..<16)), .centralIdentification(ediv: 0xBEEF, rand: 0x0102_0304_0506_0708),
            .identityInformation(irk: Array(0..<16)), .identityAddressInformation(address: Self.cuff),
            .signingInformation(csrk: Array(0..<16)), .securityRequest([.bonding, .mitm]),
            .pairingPublicKey(Array(repeating: 7, count: 64)), .pairingDHKeyCheck(Array(0..<16)), .keypressNotification(1),
        ]
        for pdu in pdus {
            XCTAssertEqual(try SecurityManagerPDU(bytes: pdu.bytes), pdu, pdu.name)
            XCTAssertThrowsError(try SecurityManagerPDU(bytes: pdu.bytes + [0]), pdu.name)
        }
        XCTAssertEqual(SecurityManagerPDU.pairingRequest(SpecResponder.features()).bytes.count, 7)
        XCTAssertEqual(SecurityManagerPDU.identityAddressInformation(address: Self.cuff).bytes, hex("09 01 1018000000f0"))
        XCTAssertEqual(try SecurityManagerPDU(bytes: [0x42, 1, 2]), .unknown(code: 0x42))
        XCTAssertThrowsError(try SecurityManagerPDU(bytes: []))
        XCTAssertEqual(PairingFailureReason(rawValue: 0x0B).description, "DHKey check failed (0x0b)")
        XCTAssertEqual(PairingFailureReason(rawValue: 0x7F).name, "reserved reason")
    }

    func testBondsMatchTheirIdentityAndTheAddressesTheirIRKResolves() throws {
        // Appendix D's ah sample: prand 0x708194 and the IRK give the hash 0x0dfbaa.
        let rpa = BluetoothAddress(littleEndian: [0xaa, 0xfb, 0x0d, 0x94, 0x81, 0x70], type: .random)
        let irk = SecretKey(octets: hex("9b7d390aa6101034 05adc857a33402ec"))!
        var bond = bond()
        XCTAssertFalse(bond.matches(rpa))
        bond.identityResolvingKey = irk
        XCTAssertTrue(bond.matches(rpa))
        XCTAssertTrue(bond.matches(Self.cuff))
        XCTAssertFalse(bond.matches(BluetoothAddress(value: Self.cuff.value, type: .public)))
        XCTAssertEqual(Self.cuff.f5Form, [0x10, 0x18, 0, 0, 0, 0xF0, 0x01])
    }

    func testArbitraryBytesFromTheDeviceNeverCrashAndEndInOneOutcome() throws {
        // Seeded: PDUs of every code and length, truncated and mutated, fed at every stage.
        var random = SplitMix64(seed: 0x5EC0_91D5)
        let valid = try validExchange()
        for round in 0..<3000 {
            var central = try machine(policy: PairingPolicy(allowLegacyPairing: round.isMultiple(of: 2)))
            var actions = central.handle(.secure)
            let prefix = Int(random.next() % UInt64(valid.count + 1))
            for pdu in valid.prefix(prefix) { actions += central.handle(.received(pdu)) }
            var bytes = valid.isEmpty ? [] : valid[Int(random.next() % UInt64(valid.count))].bytes
            switch random.next() % 4 {
            case 0: bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1))))
            case 1 where !bytes.isEmpty: bytes[Int(random.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            case 2: bytes = (0..<Int(random.next() % 80)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            default: bytes += [UInt8(truncatingIfNeeded: random.next())]
            }
            if let pdu = try? SecurityManagerPDU(bytes: bytes) {
                actions += central.handle(.received(pdu))
            }
            actions += central.handle(.encryptionChanged(status: UInt8(truncatingIfNeeded: random.next() % 3), enabled: true))
            actions += central.handle(.timedOut)
            let endings = actions.filter {
                switch $0 {
                case .succeeded, .failed: true
                default: false
                }
            }
            XCTAssertLessThanOrEqual(endings.count, 1, "round \(round): more than one outcome")
            XCTAssertTrue(central.isFinished, "round \(round): still running after a timeout")
        }
    }

    /// The PDUs a well-behaved cuff sends in a Secure Connections pairing, in order.
    func validExchange() throws -> [SecurityManagerPDU] {
        var central = try machine()
        var responder = try SpecResponder(central: Self.gateway, peripheral: Self.cuff)
        var sent: [SecurityManagerPDU] = []
        var pending = central.handle(.secure)
        while !pending.isEmpty {
            switch pending.removeFirst() {
            case .send(let pdu):
                for reply in try responder.receive(pdu) {
                    sent.append(reply)
                    pending += central.handle(.received(reply))
                }
            case .startEncryption:
                pending += central.handle(.encryptionChanged(status: 0, enabled: true))
                for pdu in responder.distributeKeys() {
                    sent.append(pdu)
                    pending += central.handle(.received(pdu))
                }
            default:
                break
            }
        }
        return sent
    }

    // MARK: Driving

    /// Runs the machine against the responder until it finishes; throws its error.
    func run(_ central: inout Machine, _ responder: inout SpecResponder) throws -> Machine.Outcome {
        var pending = central.handle(.secure)
        var steps = 0
        while !pending.isEmpty {
            steps += 1
            guard steps < 50 else { throw PairingError(.timeout, "no end") }
            let action = pending.removeFirst()
            switch action {
            case .send(let pdu):
                for reply in try responder.receive(pdu) { pending += central.handle(.received(reply)) }
            case .startEncryption(let key, _, _):
                responder.encryptedWith = key.octets
                pending += central.handle(.encryptionChanged(status: 0, enabled: true))
                for pdu in responder.distributeKeys() { pending += central.handle(.received(pdu)) }
            case .succeeded(let outcome):
                return outcome
            case .failed(let error):
                for case .send(let pdu) in pending { _ = try responder.receive(pdu) }
                throw error
            }
        }
        throw PairingError(.timeout, "the machine stopped without an outcome")
    }

    func failure(_ actions: [Machine.Action]) -> PairingError? {
        for case .failed(let error) in actions { return error }
        return nil
    }
}

/// A peripheral's side of Just Works pairing, written from Vol 3 Part H §2.3.5.6 and §2.3.5.5.
struct SpecResponder {
    let central: BluetoothAddress
    let peripheral: BluetoothAddress
    let keyPair: PairingKeyPair
    let nonce = hex("cfc43dfff7836521 6e5fa725cce7e8a6")
    let irk = hex("f0e0d0c0b0a090807060504030201000")
    let identity = BluetoothAddress("F0:00:00:00:18:10", type: .random)!
    let legacyLTK = hex("11111111222222223333333344444444")
    var maximumKeySize: UInt8 = 16
    var secureConnections = true
    var corruptConfirm = false
    var corruptDHKeyCheck = false

    var request: PairingFeatures?
    var response: PairingFeatures?
    var centralPublicKey: [UInt8] = []
    var centralNonce: [UInt8] = []
    var ltk: [UInt8] = []
    var stk: [UInt8] = []
    var encryptedWith: [UInt8] = []
    var received: [SecurityManagerPDU] = []
    var receivedIRK: [UInt8]?
    var receivedIdentity: BluetoothAddress?

    init(central: BluetoothAddress, peripheral: BluetoothAddress) throws {
        self.central = central
        self.peripheral = peripheral
        keyPair = try PairingKeyPair(privateKeyWireOrder: hex("fdc57ff449dd4f6b fb7c9df1c29acb59 2ae7d4eefbfc0a90 9abbf6323d8b1855"))
    }

    static func features(secureConnections: Bool = true, keySize: UInt8 = 16) -> PairingFeatures {
        PairingFeatures(
            ioCapability: .noInputNoOutput, oobDataPresent: false,
            authentication: secureConnections ? [.bonding, .secureConnections] : [.bonding], maximumKeySize: keySize,
            initiatorKeys: .identityKey, responderKeys: [.encryptionKey, .identityKey])
    }

    mutating func receive(_ pdu: SecurityManagerPDU) throws -> [SecurityManagerPDU] {
        received.append(pdu)
        switch pdu {
        case .pairingRequest(let request):
            self.request = request
            let response = Self.features(secureConnections: secureConnections, keySize: maximumKeySize)
            self.response = response
            return [.pairingResponse(response)]
        case .pairingPublicKey(let key):
            centralPublicKey = key
            var confirm = SecurityFunctions.f4(u: keyPair.publicKeyX, v: Array(key.prefix(32)), x: nonce, z: 0)
            if corruptConfirm { confirm[0] ^= 1 }
            return [.pairingPublicKey(keyPair.publicKey), .pairingConfirm(confirm)]
        case .pairingConfirm(let confirm) where !secureConnections:
            _ = confirm
            return [.pairingConfirm(legacyConfirm(random: nonce))]
        case .pairingRandom(let random):
            centralNonce = random
            if !secureConnections {
                stk = Array(SecurityFunctions.s1(k: [UInt8](repeating: 0, count: 16), r1: nonce, r2: random).prefix(Int(maximumKeySize)))
                stk += [UInt8](repeating: 0, count: 16 - stk.count)
            }
            return [.pairingRandom(nonce)]
        case .pairingDHKeyCheck(let check):
            guard let dhKey = keyPair.dhKey(peerPublicKey: centralPublicKey), let request, let response else { return [] }
            let (macKey, fullLTK) = SecurityFunctions.f5(w: dhKey, n1: centralNonce, n2: nonce, a1: central.f5Form, a2: peripheral.f5Form)
            ltk = fullLTK.enumerated().map { $0.offset < Int(maximumKeySize) ? $0.element : 0 }
            let expected = SecurityFunctions.f6(
                w: macKey, n1: centralNonce, n2: nonce, r: [UInt8](repeating: 0, count: 16), ioCap: request.f6IOCap,
                a1: central.f5Form, a2: peripheral.f5Form)
            guard expected == check else { return [.pairingFailed(.dhKeyCheckFailed)] }
            var mine = SecurityFunctions.f6(
                w: macKey, n1: nonce, n2: centralNonce, r: [UInt8](repeating: 0, count: 16), ioCap: response.f6IOCap,
                a1: peripheral.f5Form, a2: central.f5Form)
            if corruptDHKeyCheck { mine[15] ^= 0x80 }
            return [.pairingDHKeyCheck(mine)]
        case .identityInformation(let irk):
            receivedIRK = irk
            return []
        case .identityAddressInformation(let address):
            receivedIdentity = address
            return []
        default:
            return []
        }
    }

    func legacyConfirm(random: [UInt8]) -> [UInt8] {
        guard let request, let response else { return [] }
        return SecurityFunctions.c1(
            k: [UInt8](repeating: 0, count: 16), r: random, preq: SecurityManagerPDU.pairingRequest(request).bytes,
            pres: SecurityManagerPDU.pairingResponse(response).bytes, initiatorType: central.type.commandValue.rawValue,
            initiator: central.littleEndianBytes, responderType: peripheral.type.commandValue.rawValue, responder: peripheral.littleEndianBytes)
    }

    /// The responder distributes first: (legacy: LTK, EDIV/Rand), then IRK and identity address.
    func distributeKeys() -> [SecurityManagerPDU] {
        var pdus: [SecurityManagerPDU] = []
        if !secureConnections {
            pdus += [.encryptionInformation(longTermKey: legacyLTK), .centralIdentification(ediv: 0x1234, rand: 0x0807_0605_0403_0201)]
        }
        return pdus + [.identityInformation(irk: irk), .identityAddressInformation(address: identity)]
    }
}
