/// The one shape of the gateway's errors: a stable code to branch on and count by (metrics labels,
/// journal details, JSON answers), a message that says where and why (never payloads or patient
/// data), and the error underneath when this one wraps another, so a SQLite, libcurl or credential
/// failure is not lost when a higher layer names what it was doing.
package protocol CodedError: Error, CustomStringConvertible {
    associatedtype Code: Hashable, Sendable, CustomStringConvertible
    var code: Code { get }
    var message: String { get }
    /// The error this one wraps; nil when the failure starts here.
    var cause: (any Error)? { get }
}

extension CodedError {
    /// The code as text, as metrics and journal entries carry it.
    package var codeText: String { code.description }

    /// This error and the causes under it, outermost first.
    package var causeChain: [any Error] {
        var chain: [any Error] = [self]
        var next = cause
        while let error = next, chain.count < 16 {
            chain.append(error)
            next = (error as? any CodedError)?.cause
        }
        return chain
    }
}
