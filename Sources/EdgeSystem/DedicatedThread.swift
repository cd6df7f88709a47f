#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Threads of the gateway's own, for blocking C libraries (libmodbus, libmosquitto, the HCI
/// socket) that must never run on Swift concurrency's cooperative pool.
///
/// On pthreads rather than Foundation's `Thread`: one reference to `Thread` links all of
/// Foundation and its 34 MB ICU table into the static binary (docs/benchmarks.md).
package enum DedicatedThread {
    /// Starts a detached thread named `name` (the kernel keeps its first 15 bytes, which `top -H`
    /// and stacks show) that runs `body` and exits.
    package static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = ThreadHandle()
        let status = pthread_create(&thread, &attributes, dedicatedThreadEntry, start)
        precondition(status == 0, "pthread_create failed: \(status)")
    }

    /// Runs a blocking call (connect, open, tcsetattr) on its own thread and returns its result
    /// to the awaiting task.
    package static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            start(name: name) { continuation.resume(with: Result { try body() }) }
        }
    }

    fileprivate static func enter(_ argument: UnsafeMutableRawPointer) {
        let start = Unmanaged<Start>.fromOpaque(argument).takeRetainedValue()
        nameThisThread(start.name)
        start.body()
    }

    /// Glibc's Swift module leaves out `pthread_setname_np` (a GNU extension); the kernel takes
    /// the same name through the thread's `comm` file.
    private static func nameThisThread(_ name: String) {
        #if canImport(Glibc)
        let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        #else
        _ = pthread_setname_np(String(decoding: name.utf8.prefix(15), as: UTF8.self))
        #endif
    }

    private final class Start: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
}

#if canImport(Glibc)
private typealias ThreadHandle = pthread_t
#else
private typealias ThreadHandle = pthread_t?
#endif

private func dedicatedThreadEntry(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    DedicatedThread.enter(argument!)
    return nil
}

/// A pthread mutex with its condition variable, for a dedicated thread that sleeps until work
/// arrives or a deadline passes. Lock, test the guarded state, wait, unlock: as with any
/// condition variable, a wake-up says only that the state may have changed.
package final class ThreadCondition: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    package init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        #if canImport(Glibc)
        // Deadlines on the monotonic clock, so that a clock step (NTP, a field kit's RTC) neither
        // stretches nor cuts a wait.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        precondition(pthread_cond_init(condition, &attributes) == 0, "pthread_cond_init failed")
        pthread_condattr_destroy(&attributes)
        #else
        precondition(pthread_cond_init(condition, nil) == 0, "pthread_cond_init failed")
        #endif
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deinitialize(count: 1)
        condition.deallocate()
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }
    package func signal() { pthread_cond_signal(condition) }
    package func broadcast() { pthread_cond_broadcast(condition) }

    /// Waits, with the lock held, until signalled.
    package func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits, with the lock held, until signalled or `deadline` has passed. False once it has passed.
    package func wait(until deadline: ContinuousClock.Instant) -> Bool {
        let remaining = ContinuousClock.now.duration(to: deadline)
        if remaining <= .zero { return false }
        #if canImport(Glibc)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let (seconds, attoseconds) = remaining.components
        var nanoseconds = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
        var wholeSeconds = Int(now.tv_sec) + Int(seconds)
        if nanoseconds >= 1_000_000_000 {
            wholeSeconds += 1
            nanoseconds -= 1_000_000_000
        }
        var absolute = timespec(tv_sec: wholeSeconds, tv_nsec: nanoseconds)
        return pthread_cond_timedwait(condition, mutex, &absolute) != ETIMEDOUT
        #else
        let (seconds, attoseconds) = remaining.components
        var relative = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        return pthread_cond_timedwait_relative_np(condition, mutex, &relative) != ETIMEDOUT
        #endif
    }
}
