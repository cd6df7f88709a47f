import EdgeCore
import EdgeSystem

/// One dedicated thread that owns a value of type `Owned` and runs submitted jobs on it one at a
/// time, in order. Blocking library calls run here, never on Swift concurrency's cooperative pool.
/// The owned value is created on the thread and never leaves it; `finish` runs there last.
final class LinkThread<Owned>: @unchecked Sendable {
    typealias Job = @Sendable (Owned) -> Void

    private let condition = ThreadCondition()
    // Guarded by `condition`.
    private var jobs: [Job] = []
    private var stopping = false

    init(name: String, make: @escaping @Sendable () -> Owned, finish: @escaping @Sendable (Owned) -> Void) {
        DedicatedThread.start(name: name) { [condition] in
            let owned = make()
            while true {
                condition.lock()
                while self.jobs.isEmpty && !self.stopping { condition.wait() }
                if self.jobs.isEmpty {
                    condition.unlock()
                    break
                }
                let job = self.jobs.removeFirst()
                condition.unlock()
                job(owned)
            }
            finish(owned)
        }
    }

    /// Queues `job`; it runs after every job submitted before it.
    func submit(_ job: @escaping Job) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on the thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ body: @escaping @Sendable (Owned) -> T) async -> T {
        await withCheckedContinuation { continuation in
            submit { owned in continuation.resume(returning: body(owned)) }
        }
    }

    /// The thread finishes the queued jobs, runs `finish` and exits.
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }
}
