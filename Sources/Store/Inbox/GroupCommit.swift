import EdgeCore

/// Commits requests that arrive together in one transaction: while a commit runs, new requests
/// wait; the writer then takes every waiting request at once and commits them as one group, so a
/// burst of concurrent appends pays one fsync instead of one each. Each caller is answered only
/// after the transaction holding its request has committed, or has failed: a failed group answers
/// every member with the error, and none of its requests is stored.
///
/// The writer is a task started by the request that finds no writer running; it ends when no
/// request is waiting. It is not a child of any caller, so a caller cancelled while it waits does
/// not roll back the group of the others; it gets its true outcome, committed or not.
final class GroupCommit<Request: Sendable, Answer: Sendable>: Sendable {
    /// Commits one group in one transaction and answers each request, in the order given.
    typealias Commit = @Sendable ([Request]) async throws(StoreError) -> [Answer]

    private struct Waiter {
        let request: Request
        let continuation: CheckedContinuation<Result<Answer, StoreError>, Never>
    }

    private struct State {
        var waiting: [Waiter] = []
        var writing = false
        var groups = 0
        var requests = 0
    }

    private let state = Locked(State())

    /// Requests waiting for the next group (not those being committed).
    var waiting: Int { state.withLock { $0.waiting.count } }
    /// Groups committed or failed so far, i.e. transactions begun; and the requests they held.
    var counts: (groups: Int, requests: Int) { state.withLock { ($0.groups, $0.requests) } }

    /// Queues `request` and returns its answer once its group has committed.
    /// `commit` must be the same function for every request of one `GroupCommit`.
    func submit(_ request: Request, commit: @escaping Commit) async throws(StoreError) -> Answer {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Answer, StoreError>, Never>) in
            let startWriter = state.withLock { state in
                state.waiting.append(Waiter(request: request, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if startWriter { Task { await self.write(commit) } }
        }
        return try result.get()
    }

    private func write(_ commit: Commit) async {
        while true {
            let group = state.withLock { state in
                let group = state.waiting
                state.waiting.removeAll(keepingCapacity: true)
                if group.isEmpty {
                    state.writing = false
                } else {
                    state.groups += 1
                    state.requests += group.count
                }
                return group
            }
            guard !group.isEmpty else { return }
            let outcome: Result<[Answer], StoreError>
            do throws(StoreError) {
                outcome = .success(try await commit(group.map(\.request)))
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let answers) where answers.count == group.count:
                for (waiter, answer) in zip(group, answers) { waiter.continuation.resume(returning: .success(answer)) }
            case .success(let answers):
                // A commit function that breaks its contract must not leave a caller waiting forever.
                let error = StoreError(.invalidState, "a group commit of \(group.count) requests answered \(answers.count) of them")
                for waiter in group { waiter.continuation.resume(returning: .failure(error)) }
            case .failure(let error):
                for waiter in group { waiter.continuation.resume(returning: .failure(error)) }
            }
        }
    }
}
