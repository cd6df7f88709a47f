import EdgeCore
import FoundationEssentials

/// Secures one LE link over its `SecurityChannel`: re-encrypts with the stored bond, or pairs
/// (and bonds) when there is none, as `SecurityStateMachine` decides. One per connection.
///
/// `run()` must run for the life of the link: it is the channel's one consumer of security
/// events, and it answers a device's Security Request even when nobody asked to secure the link.
/// `secure()` may be called any number of times; it returns at once when the link is secured.
///
/// ```swift
/// let security = LinkSecurity(channel: connection, bonds: BondStore(dataDirectory: dir))
/// async let events: Void = security.run()
/// let outcome = try await security.secure()   // e.g. after ATT "insufficient encryption"
/// ```
package actor LinkSecurity {
    let channel: any SecurityChannel
    let bonds: BondStore
    let policy: PairingPolicy
    let smpTimeout: Duration
    /// Times the SMP timer (the host's clock, so a test can run a silent peer's 30 s at once).
    let clock: any Clock<Duration>
    let now: @Sendable () -> Int64
    /// Told each bond kept on this link, and whether it replaced one the device had lost.
    let bondKept: (@Sendable (_ bond: Bond, _ replacedLostBond: Bool) async -> Void)?
    /// Tests turn this off to play a central that asks for legacy pairing only.
    var requestSecureConnections = true

    private var machine: SecurityStateMachine?
    private var result: Result<SecurityOutcome, PairingError>?
    private var waiters: [CheckedContinuation<Result<SecurityOutcome, PairingError>, Never>] = []
    private var timer: Task<Void, Never>?
    private var timerGeneration = 0
    private var linkGone: UInt8?
    /// The bond loaded when securing began: pairing after it means the device had lost it.
    private var heldBond: Bond?

    /// `now` gives milliseconds since the epoch (the bond's pairing time); `smpTimeout` is the
    /// specification's 30 s unless a test shortens it; `bondKept` hears of every bond stored
    /// (for the journal), with whether it replaced a bond the device had lost; `clock` times the
    /// SMP timer.
    package init(
        channel: some SecurityChannel, bonds: BondStore, policy: PairingPolicy = .standard,
        smpTimeout: Duration = .seconds(30), clock: any Clock<Duration> = ContinuousClock(), now: (@Sendable () -> Int64)? = nil,
        bondKept: (@Sendable (_ bond: Bond, _ replacedLostBond: Bool) async -> Void)? = nil
    ) {
        self.channel = channel
        self.bondKept = bondKept
        self.bonds = bonds
        self.policy = policy
        self.smpTimeout = smpTimeout
        self.clock = clock
        self.now = now ?? { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
    }

    /// Consumes the link's security events until the link is gone.
    package func run() async {
        for await event in channel.securityEvents {
            await handle(event)
        }
        if linkGone == nil { await handle(.disconnected(reason: 0x16)) }
        stopTimer()
    }

    /// Encrypts the link (re-encryption with the stored bond, else pairing); returns how. After a
    /// failure a new call starts over (after a timeout only on a new link, as SMP requires).
    package func secure() async throws(PairingError) -> SecurityOutcome {
        if case .success(let outcome)? = result { return outcome }
        if let linkGone { throw gone(linkGone) }
        if machine?.isInProgress != true {
            if case .failure(let error)? = result, error.kind == .timeout { throw error }
            try await begin(.secure)
            switch result {
            case .success(let outcome)?: return outcome
            case .failure(let error)?: throw error
            case nil: break
            }
        }
        return try await withCheckedContinuation { waiters.append($0) }.get()
    }

    /// The last outcome: nil until the link was first secured or refused.
    package var outcome: Result<SecurityOutcome, PairingError>? { result }

    // MARK: Events

    private func handle(_ event: SecurityEvent) async {
        switch event {
        case .smp(let bytes):
            let pdu: SecurityManagerPDU
            do {
                pdu = try SecurityManagerPDU(bytes: bytes)
            } catch {
                guard machine?.isInProgress == true else { return }
                try? await channel.sendSecurityPDU(SecurityManagerPDU.pairingFailed(.invalidParameters).bytes)
                machine = nil
                stopTimer()
                finish(.failure(PairingError(.refused(.invalidParameters), "\(channel.link.peer) sent a malformed SMP PDU: \(error)")))
                return
            }
            if machine?.isInProgress == true {
                await feed(.received(pdu))
            } else if case .securityRequest = pdu {
                // The device asks for security: encrypt with the bond, or pair.
                if case .success? = result { return }
                if case .failure(let error)? = result, error.kind == .timeout { return }
                try? await begin(.received(pdu))
            } else if case .pairingRequest = pdu {
                try? await channel.sendSecurityPDU(SecurityManagerPDU.pairingFailed(.commandNotSupported).bytes)
            }
        case .encryptionChanged(let status, let enabled):
            await feed(.encryptionChanged(status: status, enabled: enabled))
        case .keyRefreshed(let status):
            await feed(.encryptionChanged(status: status, enabled: status == 0))
        case .disconnected(let reason):
            linkGone = reason
            await feed(.disconnected(reason: reason))
            if !waiters.isEmpty { finish(.failure(gone(reason))) }
            stopTimer()
        }
    }

    /// Loads the bond and the gateway's IRK, then starts the machine with `event`.
    private func begin(_ event: SecurityStateMachine.Event) async throws(PairingError) {
        let link = channel.link
        let bond: Bond?
        let localIRK: SecretKey
        do {
            bond = try await bonds.bond(for: link.peer)
            localIRK = try await bonds.localIdentityResolvingKey { SystemRandom.bytes(16) }
        } catch {
            let failure = PairingError(.storage(error.description), "cannot secure the link to \(link.peer): \(error)")
            result = .failure(failure)
            throw failure
        }
        // Re-read after the awaits: another call may have started meanwhile.
        guard machine?.isInProgress != true, linkGone == nil else { return }
        var fresh = SecurityStateMachine(
            local: link.local, peer: link.peer, policy: policy, bond: bond, secrets: .generate(localIRK: localIRK),
            startedAtMilliseconds: now())
        fresh.requestSecureConnections = requestSecureConnections
        machine = fresh
        heldBond = bond
        result = nil
        armTimer()
        await feed(event)
    }

    private func feed(_ event: SecurityStateMachine.Event) async {
        guard var current = machine else { return }
        let actions = current.handle(event)
        machine = current
        for action in actions { await perform(action) }
    }

    private func perform(_ action: SecurityStateMachine.Action) async {
        switch action {
        case .send(let pdu):
            armTimer()
            do {
                try await channel.sendSecurityPDU(pdu.bytes)
            } catch {
                await feed(.disconnected(reason: linkGone ?? 0x08))
            }
        case .startEncryption(let key, let ediv, let rand):
            do {
                try await channel.startEncryption(longTermKey: key.octets, encryptedDiversifier: ediv, randomNumber: rand)
            } catch {
                let status: UInt8 = if case .command(let status)? = (error as? BluetoothError)?.kind { status } else { 0x1F }
                await feed(.encryptionChanged(status: status, enabled: false))
            }
        case .succeeded(let outcome):
            stopTimer()
            if case .paired(let bond, true) = outcome {
                do {
                    try await bonds.save(bond)
                } catch {
                    finish(.failure(PairingError(.storage(error.description), "paired with \(bond.address), but the bond was not kept: \(error)")))
                    return
                }
                await bondKept?(bond, heldBond != nil)
            }
            finish(.success(outcome))
        case .failed(let error):
            stopTimer()
            if error.kind == .keyMissing, policy.repairWhenKeyMissing, let stale = heldBond {
                // The link dropped (MIC failure) before pairing could start on it: without the
                // stale bond, the next link pairs instead of failing the same way forever.
                _ = try? await bonds.remove(stale.address)
            }
            finish(.failure(error))
        }
    }

    private func finish(_ outcome: Result<SecurityOutcome, PairingError>) {
        result = outcome
        let waiting = waiters
        waiters = []
        for waiter in waiting { waiter.resume(returning: outcome) }
    }

    private func gone(_ reason: UInt8) -> PairingError {
        PairingError(.disconnected(reason: reason), "the link to \(channel.link.peer) is gone (HCI reason 0x\(Hex.string([reason])))")
    }

    // MARK: SMP timer

    /// (Re)starts the SMP timer: at the start and at every PDU sent (Vol 3 Part H §3.4).
    private func armTimer() {
        timer?.cancel()
        timerGeneration += 1
        let generation = timerGeneration
        let timeout = smpTimeout
        let clock = self.clock
        timer = Task { [weak self] in
            guard (try? await clock.sleep(for: timeout)) != nil else { return }
            await self?.timerFired(generation)
        }
    }

    private func timerFired(_ generation: Int) async {
        guard generation == timerGeneration, machine?.isInProgress == true else { return }
        await feed(.timedOut)
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
    }
}
