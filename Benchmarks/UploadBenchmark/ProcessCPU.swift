import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// CPU time (user + system, all threads) of this process and of another one, to tell which side
/// of an upload is the bottleneck.
enum ProcessCPU {
    /// This process: `getrusage(RUSAGE_SELF)`.
    static func own() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Another process from `/proc/<pid>/stat`: utime + stime, plus cutime + cstime of children
    /// it has waited for (a server that forks workers). Nil when the process cannot be read.
    static func of(pid: Int32) -> Double? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // The command name is in parentheses and may hold spaces: fields count from after it.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); utime..cstime are fields 14..17.
        guard fields.count > 14 else { return nil }
        let ticks = (11...14).compactMap { Double(fields[$0]) }.reduce(0, +)
        let perSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return perSecond > 0 ? ticks / perSecond : nil
    }

    /// Seconds the threads of `pid` ("self" for this process) ran, and seconds they were ready
    /// but waited for a CPU, from `/proc/PID/task/*/schedstat`. On a loaded machine the waiting
    /// shows a process that is CPU-bound but starved, rather than blocked on I/O. Threads that
    /// ended between two readings drop out of the sum.
    static func scheduling(of pid: String) -> (running: Double, waiting: Double)? {
        let tasks = "/proc/\(pid)/task"
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: tasks) else { return nil }
        var running = 0.0
        var waiting = 0.0
        for thread in threads {
            guard let data = FileManager.default.contents(atPath: "\(tasks)/\(thread)/schedstat") else { continue }
            let fields = String(decoding: data, as: UTF8.self).split(separator: " ")
            guard fields.count >= 2, let ran = Double(fields[0]), let waited = Double(fields[1]) else { continue }
            running += ran / 1e9
            waiting += waited / 1e9
        }
        return (running, waiting)
    }
}
