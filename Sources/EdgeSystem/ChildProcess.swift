#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a tool (`systemctl`, `openssl`, `tar`) for the diagnostic commands, through `posix_spawn`:
/// Foundation's `Process` would link all of Foundation and ICU into the static binary.
package enum ChildProcess {
    package struct Outcome: Sendable, Equatable {
        /// The exit status, or nil when the tool was killed at its time limit or by a signal.
        package let status: Int32?
        /// Its standard output, at most `outputLimit` bytes.
        package let output: [UInt8]
    }

    package enum Failure: Error, Equatable {
        /// The tool could not be started (errno from `posix_spawn`, or from the output file).
        case cannotStart(String, Int32)
    }

    /// Runs `executable` with `arguments`, standard input and error on /dev/null, standard output
    /// into an unlinked temporary file (a chatty tool cannot stall on a full pipe), and kills it
    /// (SIGKILL) once `timeout` has passed.
    package static func run(
        _ executable: String, _ arguments: [String], timeout: Duration, outputLimit: Int = 1 << 20
    ) throws(Failure) -> Outcome {
        var template = Array("/tmp/fhir-edge-tool-XXXXXX".utf8CString)
        let output = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard output >= 0 else { throw .cannotStart(executable, errno) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        defer { close(output) }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw .cannotStart(executable, errno) }
        defer { close(null) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, null, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, null, 2)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw .cannotStart(executable, spawned) }

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var status: Int32 = 0
        var killed = false
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if reaped < 0, errno != EINTR { break }
            if !killed, clock.now >= deadline {
                kill(pid, SIGKILL)
                killed = true
            }
            usleep(10_000)
        }
        // WIFEXITED and WEXITSTATUS are macros that Swift does not import.
        let exited = status & 0x7f == 0
        var bytes = [UInt8](repeating: 0, count: outputLimit)
        let count = bytes.withUnsafeMutableBytes { pread(output, $0.baseAddress, outputLimit, 0) }
        bytes.removeSubrange(max(0, count)...)
        return Outcome(status: !killed && exited ? (status >> 8) & 0xff : nil, output: bytes)
    }
}
