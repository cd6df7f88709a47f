import Upstream

/// An in-process upstream: answers requests from a script, in order, or from a handler.
actor ScriptedTransport: HTTPTransport {
    enum Step: Sendable {
        case response(UpstreamResponse)
        case failure(UpstreamTransportError)
    }

    private var script: [Step]
    private let handler: (@Sendable (UpstreamRequest) -> Step)?
    private(set) var sent: [UpstreamRequest] = []

    init(_ script: [Step]) {
        self.script = script
        self.handler = nil
    }

    init(handler: @escaping @Sendable (UpstreamRequest) -> Step) {
        self.script = []
        self.handler = handler
    }

    func send(_ request: UpstreamRequest) async throws(UpstreamTransportError) -> UpstreamResponse {
        sent.append(request)
        let step: Step
        if let handler {
            step = handler(request)
        } else if script.isEmpty {
            step = .failure(UpstreamTransportError(.other, "script exhausted", url: request.url))
        } else {
            step = script.removeFirst()
        }
        switch step {
        case .response(let response): return response
        case .failure(let error): throw error
        }
    }
}
