import Testing

@testable import Bluetooth

/// The ATT errors that send a link to pairing are one set, read the same by the host and by the
/// device session: Insufficient Authentication, Encryption Key Size and Encryption, never
/// Insufficient Authorization (pairing does not grant it).
@Suite struct SecurityErrorSetTests {
    @Test(arguments: 0...255)
    func hostAndSessionAgree(code: Int) {
        let code = UInt8(code)
        let expected = [0x05, 0x0C, 0x0F].contains(code)
        #expect(BluetoothError(.att(code: code), "refused").needsSecurity == expected)
        #expect(SessionFailure(.subscribe, "refused", attError: code).asksForSecurity == expected)
    }
}
