/// How sessions secure a link with the security manager and the bond store.
package enum BluetoothSecurity {
    /// Re-encrypts with the bond in `bonds`, or pairs and bonds when there is none.
    package static func securing(with bonds: BondStore) -> LinkSecurity {
        { connection, policy in
            throw SessionFailure(.secure, "pairing is not available yet for \(connection.peer)")
        }
    }
}
