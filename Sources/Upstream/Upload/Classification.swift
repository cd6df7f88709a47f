/// The uploader's three words for an HTTP status (style: accept / reject / keep).
enum Disposition: Equatable, Sendable {
    /// Stored by the server.
    case accept
    /// The resource itself is at fault; retrying cannot help.
    case reject
    /// Try again later: the server, the network, throttling or credentials are at fault.
    case keep
}

enum Classification {
    /// One entry's status inside a batch or transaction response, or the status of a request
    /// that carried a single resource.
    ///
    /// | status | disposition |
    /// |---|---|
    /// | 1xx, 3xx | keep (not a final answer for a resource) |
    /// | 2xx | accept |
    /// | 401, 403 | keep: credentials or permissions, not the resource |
    /// | 405, 406, 415 | keep: the endpoint or media type is misconfigured |
    /// | 404 without OperationOutcome | keep: most likely a wrong base URL |
    /// | 408, 425, 429 | keep: timeout, too early, throttled |
    /// | other 4xx | reject |
    /// | 5xx | keep |
    static func entry(status: Int, hasOperationOutcome: Bool) -> Disposition {
        switch status {
        case 200..<300: .accept
        case 401, 403, 405, 406, 408, 415, 425, 429: .keep
        case 404: hasOperationOutcome ? .reject : .keep
        case 400..<500: .reject
        default: .keep
        }
    }
}
