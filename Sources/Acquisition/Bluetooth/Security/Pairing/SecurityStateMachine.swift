import EdgeCore
/// Per-procedure values that must be fresh and secret; injected so tests are deterministic.
struct PairingSecrets: Sendable {
    /// The P-256 key pair for LE Secure Connections.
    var keyPair: PairingKeyPair
    /// Na (Secure Connections) or Mrand (legacy): 16 random octets.
    var nonce: [UInt8]
    /// The gateway's IRK, sent with its identity address.
    var localIRK: SecretKey

    /// A fresh key pair and nonce from the system's secure generator.
    static func generate(localIRK: SecretKey) -> PairingSecrets {
        PairingSecrets(keyPair: .generate(), nonce: SystemRandom.bytes(16), localIRK: localIRK)
    }
}

/// The central's side of securing one LE link (Core spec Vol 3 Part H): re-encryption with a
/// stored bond, or pairing as initiator — LE Secure Connections Just Works, legacy Just Works only
/// when the policy allows it — followed by key distribution. It takes events and returns actions;
/// the shell sends the PDUs, starts encryption, arms the 30 s SMP timer (reset whenever it sends
/// a PDU), stores the bond and reports the outcome. Keys never appear in an error or a name.
struct SecurityStateMachine {
    enum Event: Sendable {
        /// Secure the link (a request needs encryption, or the profile requires it).
        case secure
        case received(SecurityManagerPDU)
        /// HCI Encryption Change (or Encryption Key Refresh Complete, with `enabled` true).
        case encryptionChanged(status: UInt8, enabled: Bool)
        case timedOut
        case disconnected(reason: UInt8)
    }

    typealias Outcome = SecurityOutcome

    enum Action: Equatable, Sendable {
        case send(SecurityManagerPDU)
        /// HCI LE Enable Encryption with this key (LTK or legacy STK).
        case startEncryption(key: SecretKey, ediv: UInt16, rand: UInt64)
        case succeeded(Outcome)
        case failed(PairingError)
    }

    /// What has been learnt in one pairing procedure.
    struct Exchange {
        var request: PairingFeatures
        var response: PairingFeatures
        var keySize = 16
        var bonding = false
        var secureConnections = false
        var peerPublicKey: [UInt8] = []
        var dhKey: [UInt8] = []
        var peerConfirm: [UInt8] = []
        var peerNonce: [UInt8] = []
        var macKey: [UInt8] = []
        /// The key that encrypts the link now (LTK, or the legacy STK).
        var linkKey: [UInt8] = []
        /// The key kept for reconnections (the LTK; with legacy pairing the distributed one).
        var longTermKey: [UInt8] = []
        var ediv: UInt16 = 0
        var rand: UInt64 = 0
        var peerIRK: SecretKey?
        var peerIdentity: BluetoothAddress?
        /// Codes of key distribution PDUs still expected from the device.
        var awaitedKeys: Set<UInt8> = []
    }

    enum State {
        case idle
        case reencrypting(Bond)
        case awaitingPairingResponse(PairingFeatures)
        case awaitingPublicKey(Exchange)
        case awaitingConfirm(Exchange)
        case awaitingRandom(Exchange)
        case awaitingDHKeyCheck(Exchange)
        case awaitingEncryption(Exchange)
        case receivingKeys(Exchange)
        case secured
        case failed
    }

    private(set) var state = State.idle
    let local: BluetoothAddress
    let peer: BluetoothAddress
    let policy: PairingPolicy
    let bond: Bond?
    let secrets: PairingSecrets
    let startedAtMilliseconds: Int64
    /// Ask for Secure Connections (tests turn it off to probe a device's refusal of legacy pairing).
    var requestSecureConnections = true

    /// `local` is the address this side connects with and distributes as its identity; `bond` the
    /// stored bond of `peer`, if any.
    init(local: BluetoothAddress, peer: BluetoothAddress, policy: PairingPolicy, bond: Bond?, secrets: PairingSecrets, startedAtMilliseconds: Int64) {
        self.local = local
        self.peer = peer
        self.policy = policy
        self.bond = bond
        self.secrets = secrets
        self.startedAtMilliseconds = startedAtMilliseconds
    }

    var isFinished: Bool {
        switch state {
        case .secured, .failed: true
        default: false
        }
    }

    /// Whether a pairing or re-encryption is under way (the shell runs the SMP timer meanwhile).
    var isInProgress: Bool {
        switch state {
        case .idle, .secured, .failed: false
        default: true
        }
    }

    mutating func handle(_ event: Event) -> [Action] {
        switch (state, event) {
        case (.secured, _), (.failed, _):
            return []
        case (_, .disconnected(let reason)):
            if case .reencrypting = state, reason == 0x3D {
                state = .failed
                return [.failed(keyMissing())]
            }
            state = .failed
            return [.failed(PairingError(.disconnected(reason: reason), "the link to \(peer) dropped while securing it (HCI reason 0x\(Hex.string([reason])))"))]
        case (_, .timedOut):
            state = .failed
            return [.failed(PairingError(.timeout, "\(peer) did not answer SMP within 30 s; the link must be reconnected before pairing again"))]
        case (.idle, .secure), (.idle, .received(.securityRequest)):
            return begin()
        case (_, .secure), (_, .received(.securityRequest)):
            return []
        case (.reencrypting(let bond), .encryptionChanged(let status, let enabled)):
            if status == 0, enabled {
                state = .secured
                return [.succeeded(.reencrypted(bond))]
            }
            if status == 0x06 {
                if policy.repairWhenKeyMissing { return startPairing() }
                state = .failed
                return [.failed(keyMissing())]
            }
            state = .failed
            return [.failed(encryptionFailed(status))]
        case (.awaitingEncryption(var exchange), .encryptionChanged(let status, let enabled)):
            guard status == 0, enabled else {
                state = .failed
                return [.failed(encryptionFailed(status))]
            }
            exchange.awaitedKeys = Self.awaitedCodes(exchange.response.responderKeys, secureConnections: exchange.secureConnections)
            return keysReceived(exchange)
        case (_, .encryptionChanged):
            return []
        case (_, .received(.pairingFailed(let reason))):
            state = .failed
            return [.failed(PairingError(.rejectedByDevice(reason), "\(peer) refused pairing: \(reason)"))]
        case (_, .received(let pdu)):
            return receive(pdu)
        }
    }

    // MARK: Starting

    private mutating func begin() -> [Action] {
        if let bond {
            state = .reencrypting(bond)
            return [.startEncryption(key: bond.longTermKey, ediv: bond.ediv, rand: bond.rand)]
        }
        return startPairing()
    }

    private mutating func startPairing() -> [Action] {
        var auth: AuthenticationRequirements = []
        if policy.bonding { auth.insert(.bonding) }
        if requestSecureConnections { auth.insert(.secureConnections) }
        let request = PairingFeatures(
            ioCapability: .noInputNoOutput, oobDataPresent: false, authentication: auth, maximumKeySize: 16,
            initiatorKeys: policy.bonding ? .identityKey : [],
            responderKeys: policy.bonding ? [.encryptionKey, .identityKey] : [])
        state = .awaitingPairingResponse(request)
        return [.send(.pairingRequest(request))]
    }

    // MARK: PDUs

    private mutating func receive(_ pdu: SecurityManagerPDU) -> [Action] {
        switch (state, pdu) {
        case (.awaitingPairingResponse(let request), .pairingResponse(let response)):
            return pairingResponse(request: request, response: response)

        case (.awaitingPublicKey(var exchange), .pairingPublicKey(let key)):
            guard key != secrets.keyPair.publicKey, let dhKey = secrets.keyPair.dhKey(peerPublicKey: key) else {
                return refuse(.dhKeyCheckFailed, "\(peer) sent a public key that is not a valid P-256 point")
            }
            guard key != PairingKeyPair.debugPublicKey else {
                return refuse(.authenticationRequirements, "\(peer) uses the specification's public debug key, so anyone could decrypt the link")
            }
            exchange.peerPublicKey = key
            exchange.dhKey = dhKey
            state = .awaitingConfirm(exchange)
            return []

        case (.awaitingConfirm(var exchange), .pairingConfirm(let confirm)):
            exchange.peerConfirm = confirm
            state = .awaitingRandom(exchange)
            return [.send(.pairingRandom(secrets.nonce))]

        case (.awaitingRandom(var exchange), .pairingRandom(let nonce)):
            exchange.peerNonce = nonce
            return exchange.secureConnections ? secureConnectionsRandom(exchange) : legacyRandom(exchange)

        case (.awaitingDHKeyCheck(let exchange), .pairingDHKeyCheck(let check)):
            let expected = SecurityFunctions.f6(
                w: exchange.macKey, n1: exchange.peerNonce, n2: secrets.nonce, r: [UInt8](repeating: 0, count: 16),
                ioCap: exchange.response.f6IOCap, a1: peer.f5Form, a2: local.f5Form)
            guard check == expected else {
                return refuse(.dhKeyCheckFailed, "\(peer) sent a DHKey check that does not match")
            }
            state = .awaitingEncryption(exchange)
            return [.startEncryption(key: secret(exchange.linkKey), ediv: 0, rand: 0)]

        case (.receivingKeys(var exchange), _) where exchange.awaitedKeys.contains(pdu.code):
            switch pdu {
            case .encryptionInformation(let key): exchange.longTermKey = shortened(key, to: exchange.keySize)
            case .centralIdentification(let ediv, let rand): exchange.ediv = ediv; exchange.rand = rand
            case .identityInformation(let irk): exchange.peerIRK = SecretKey(octets: irk)
            case .identityAddressInformation(let address): exchange.peerIdentity = address
            default: break  // signing key: not kept
            }
            exchange.awaitedKeys.remove(pdu.code)
            return keysReceived(exchange)

        case (_, .unknown):
            return refuse(.commandNotSupported, "\(peer) sent \(pdu.name), which this gateway does not support")
        case (_, .pairingRequest):
            return refuse(.commandNotSupported, "\(peer) sent a Pairing Request, but the central initiates pairing")
        case (_, .keypressNotification):
            return []
        default:
            return refuse(.unspecifiedReason, "\(peer) sent \(pdu.name) out of order")
        }
    }

    private mutating func pairingResponse(request: PairingFeatures, response: PairingFeatures) -> [Action] {
        var exchange = Exchange(request: request, response: response)
        exchange.keySize = Int(min(request.maximumKeySize, response.maximumKeySize))
        guard exchange.keySize >= 7 else {
            return refuse(.encryptionKeySize, "\(peer) offers a \(exchange.keySize)-octet key; at least 7 are required")
        }
        guard request.initiatorKeys.isSuperset(of: response.initiatorKeys),
              request.responderKeys.isSuperset(of: response.responderKeys)
        else {
            return refuse(.invalidParameters, "\(peer) asked for keys this gateway did not offer")
        }
        exchange.bonding = request.authentication.requestsBonding && response.authentication.requestsBonding
        exchange.secureConnections =
            request.authentication.contains(.secureConnections) && response.authentication.contains(.secureConnections)
        if exchange.secureConnections {
            state = .awaitingPublicKey(exchange)
            return [.send(.pairingPublicKey(secrets.keyPair.publicKey))]
        }
        guard policy.allowLegacyPairing else {
            return refuse(
                .authenticationRequirements,
                "\(peer) offers only LE legacy pairing, which its profile does not allow (allowLegacyPairing)")
        }
        // Legacy Just Works: TK is zero, so the confirm is c1(0, Mrand, ...).
        state = .awaitingConfirm(exchange)
        return [.send(.pairingConfirm(legacyConfirm(exchange, random: secrets.nonce)))]
    }

    private mutating func secureConnectionsRandom(_ exchange: Exchange) -> [Action] {
        var exchange = exchange
        let expected = SecurityFunctions.f4(
            u: Array(exchange.peerPublicKey.prefix(32)), v: secrets.keyPair.publicKeyX, x: exchange.peerNonce, z: 0)
        guard expected == exchange.peerConfirm else {
            return refuse(.confirmValueFailed, "\(peer) sent a confirm value that does not match its random")
        }
        let (macKey, ltk) = SecurityFunctions.f5(
            w: exchange.dhKey, n1: secrets.nonce, n2: exchange.peerNonce, a1: local.f5Form, a2: peer.f5Form)
        exchange.macKey = macKey
        exchange.linkKey = shortened(ltk, to: exchange.keySize)
        exchange.longTermKey = exchange.linkKey
        let check = SecurityFunctions.f6(
            w: macKey, n1: secrets.nonce, n2: exchange.peerNonce, r: [UInt8](repeating: 0, count: 16),
            ioCap: exchange.request.f6IOCap, a1: local.f5Form, a2: peer.f5Form)
        state = .awaitingDHKeyCheck(exchange)
        return [.send(.pairingDHKeyCheck(check))]
    }

    private mutating func legacyRandom(_ exchange: Exchange) -> [Action] {
        var exchange = exchange
        guard legacyConfirm(exchange, random: exchange.peerNonce) == exchange.peerConfirm else {
            return refuse(.confirmValueFailed, "\(peer) sent a confirm value that does not match its random")
        }
        let stk = SecurityFunctions.s1(k: [UInt8](repeating: 0, count: 16), r1: exchange.peerNonce, r2: secrets.nonce)
        exchange.linkKey = shortened(stk, to: exchange.keySize)
        state = .awaitingEncryption(exchange)
        return [.startEncryption(key: secret(exchange.linkKey), ediv: 0, rand: 0)]
    }

    private func legacyConfirm(_ exchange: Exchange, random: [UInt8]) -> [UInt8] {
        SecurityFunctions.c1(
            k: [UInt8](repeating: 0, count: 16), r: random,
            preq: SecurityManagerPDU.pairingRequest(exchange.request).bytes,
            pres: SecurityManagerPDU.pairingResponse(exchange.response).bytes,
            initiatorType: local.type.commandValue.rawValue, initiator: local.littleEndianBytes,
            responderType: peer.type.commandValue.rawValue, responder: peer.littleEndianBytes)
    }

    // MARK: Key distribution

    /// The PDUs a side sends for `keys`: with Secure Connections the LTK is derived, not sent.
    static func awaitedCodes(_ keys: KeyDistribution, secureConnections: Bool) -> Set<UInt8> {
        var codes: Set<UInt8> = []
        if keys.contains(.encryptionKey), !secureConnections { codes.formUnion([0x06, 0x07]) }
        if keys.contains(.identityKey) { codes.formUnion([0x08, 0x09]) }
        if keys.contains(.signingKey) { codes.insert(0x0A) }
        return codes
    }

    /// After the device's keys (it distributes first), sends this side's and finishes.
    private mutating func keysReceived(_ exchange: Exchange) -> [Action] {
        guard exchange.awaitedKeys.isEmpty else {
            state = .receivingKeys(exchange)
            return []
        }
        if !exchange.secureConnections, exchange.response.responderKeys.contains(.encryptionKey), exchange.longTermKey.isEmpty {
            return refuse(.unspecifiedReason, "\(peer) did not distribute its LTK")
        }
        var actions: [Action] = []
        if exchange.response.initiatorKeys.contains(.identityKey) {
            actions.append(.send(.identityInformation(irk: secrets.localIRK.octets)))
            actions.append(.send(.identityAddressInformation(address: local)))
        }
        let keepable = exchange.longTermKey.isEmpty ? exchange.linkKey : exchange.longTermKey
        let bond = Bond(
            address: exchange.peerIdentity ?? peer, longTermKey: secret(keepable), ediv: exchange.ediv, rand: exchange.rand,
            identityResolvingKey: exchange.peerIRK, keySize: exchange.keySize, authenticated: false,
            secureConnections: exchange.secureConnections, pairedAtMilliseconds: startedAtMilliseconds)
        state = .secured
        actions.append(.succeeded(.paired(bond, bonded: exchange.bonding)))
        return actions
    }

    // MARK: Failing

    private mutating func refuse(_ reason: PairingFailureReason, _ message: String) -> [Action] {
        state = .failed
        return [.send(.pairingFailed(reason)), .failed(PairingError(.refused(reason), message + " (sent Pairing Failed: \(reason))"))]
    }

    private func keyMissing() -> PairingError {
        PairingError(
            .keyMissing,
            "\(peer) no longer has the bond this gateway holds (reset or re-paired elsewhere): pair again with fhir-edge ble pair \(peer) "
                + "(fhir-edge ble pair \(peer) --forget drops the stale bond), or set repairWhenKeyMissing: true for the device")
    }

    private func encryptionFailed(_ status: UInt8) -> PairingError {
        PairingError(.encryptionFailed(status: status), "the controller could not encrypt the link to \(peer) (HCI status 0x\(Hex.string([status])))")
    }

    private func shortened(_ key: [UInt8], to size: Int) -> [UInt8] {
        key.enumerated().map { $0.offset < size ? $0.element : 0 }
    }

    private func secret(_ octets: [UInt8]) -> SecretKey {
        SecretKey(derived: octets)
    }
}
