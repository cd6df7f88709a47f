import EdgeCore
import EdgeSystem
import Glibc
import XCTest

final class FilePathsTests: XCTestCase {
    func testTheFolderOfAPathIsWhatDirnamePrints() {
        XCTAssertEqual(FilePaths.directory(of: "/var/lib/fhir-edge/store.sqlite"), "/var/lib/fhir-edge")
        XCTAssertEqual(FilePaths.directory(of: "/store.sqlite"), "/")
        XCTAssertEqual(FilePaths.directory(of: "store.sqlite"), ".")
        XCTAssertEqual(FilePaths.directory(of: "data/kit/"), "data")
        XCTAssertEqual(FilePaths.directory(of: "a//b"), "a")
        XCTAssertEqual(FilePaths.directory(of: "/"), "/")
    }

    func testJoinAndLastComponent() {
        XCTAssertEqual(FilePaths.join("/data", "bluetooth"), "/data/bluetooth")
        XCTAssertEqual(FilePaths.join("/data/", "bluetooth"), "/data/bluetooth")
        XCTAssertEqual(FilePaths.join("", "bonds.json"), "bonds.json")
        XCTAssertEqual(FilePaths.lastComponent(of: "profiles/strap.yaml"), "strap.yaml")
        XCTAssertEqual(FilePaths.lastComponent(of: "profiles/strap/"), "strap")
        XCTAssertEqual(FilePaths.lastComponent(of: "strap.yaml"), "strap.yaml")
        XCTAssertEqual(FilePaths.lastComponent(of: "/"), "/")
    }

    func testFileStatusReadsSizeAndPermissionBits() throws {
        let path = NSTemporaryDirectory() + "edge-system-\(getpid()).bin"
        defer { unlink(path) }
        let descriptor = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o640)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        XCTAssertEqual([UInt8](repeating: 7, count: 1234).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }, 1234)
        close(descriptor)
        chmod(path, 0o640)
        let status = try XCTUnwrap(FileStatus(path: path))
        XCTAssertEqual(status.size, 1234)
        XCTAssertEqual(status.permissions, 0o640)
        XCTAssertNil(FileStatus(path: path + ".missing"))
        XCTAssertFalse(FilePaths.isDirectory(path))
        XCTAssertTrue(FilePaths.isDirectory(NSTemporaryDirectory()))
    }

    func testWriteAllWritesEveryByteOrNamesTheError() throws {
        let path = NSTemporaryDirectory() + "edge-system-write-\(getpid()).bin"
        defer { unlink(path) }
        let descriptor = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        XCTAssertNil(FileDescriptor.writeAll(bytes, to: descriptor))
        close(descriptor)
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), bytes)
        XCTAssertEqual(FileDescriptor.writeAll([1], to: -1), EBADF)
        // Read back to its end, across several reads of a 64 KiB chunk.
        let reading = open(path, O_RDONLY)
        let (read, error) = FileDescriptor.readAll(from: reading)
        close(reading)
        XCTAssertNil(error)
        XCTAssertEqual(read, bytes)
        XCTAssertEqual(FileDescriptor.readAll(from: -1).error, EBADF)
    }

    func testAFileErrorIsTheSystemsReason() {
        do {
            _ = try Data(contentsOf: URL(fileURLWithPath: "/nonexistent/edge-system"))
            XCTFail("read a missing file")
        } catch {
            XCTAssertEqual(SystemErrorText.reason(error), "No such file or directory")
        }
    }
}

final class ChildProcessTests: XCTestCase {
    func testOutputAndExitStatusOfATool() throws {
        let outcome = try ChildProcess.run("/bin/sh", ["-c", "printf 'one\\ntwo'; echo noise >&2; exit 3"], timeout: .seconds(10))
        XCTAssertEqual(String(decoding: outcome.output, as: UTF8.self), "one\ntwo")
        XCTAssertEqual(outcome.status, 3)
    }

    func testOutputIsCutAtTheLimit() throws {
        let outcome = try ChildProcess.run("/bin/sh", ["-c", "head -c 5000 /dev/zero"], timeout: .seconds(10), outputLimit: 100)
        XCTAssertEqual(outcome.output.count, 100)
        XCTAssertEqual(outcome.status, 0)
    }

    func testAToolPastItsTimeLimitIsKilledAndHasNoStatus() throws {
        let outcome = try ChildProcess.run("/bin/sleep", ["30"], timeout: .milliseconds(50))
        XCTAssertNil(outcome.status)
    }

    func testAMissingToolCannotStart() {
        XCTAssertThrowsError(try ChildProcess.run("/nonexistent/tool", [], timeout: .seconds(1))) { error in
            guard case ChildProcess.Failure.cannotStart(let tool, let code) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(tool, "/nonexistent/tool")
            XCTAssertEqual(code, ENOENT)
        }
    }
}

final class DedicatedThreadTests: XCTestCase {
    func testABlockingCallRunsOnANamedThreadOfItsOwn() async throws {
        let name = try await DedicatedThread.run("edge-test-thread") { () throws -> String in
            let descriptor = open("/proc/thread-self/comm", O_RDONLY)
            defer { close(descriptor) }
            var bytes = [UInt8](repeating: 0, count: 32)
            let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            return String(decoding: bytes.prefix(max(0, count)), as: UTF8.self).trimmingWhitespace
        }
        // The kernel keeps 15 bytes of a thread's name.
        XCTAssertEqual(name, "edge-test-threa")
    }

    func testAThrownErrorReachesTheCaller() async {
        struct Refused: Error {}
        do {
            _ = try await DedicatedThread.run("edge-test-throw") { () throws -> Int in throw Refused() }
            XCTFail("no error")
        } catch {
            XCTAssertTrue(error is Refused)
        }
    }

    func testAConditionWakesTheWaiterAndTimesOutWithoutASignal() async {
        let condition = ThreadCondition()
        let flag = Locked(false)
        // Nothing signals: the wait ends at its deadline and says so.
        condition.lock()
        XCTAssertFalse(condition.wait(until: ContinuousClock.now.advanced(by: .milliseconds(20))))
        condition.unlock()
        // A waiter on its own thread sees the flag that was set under the lock before the signal.
        let woken: Bool = await withCheckedContinuation { continuation in
            DedicatedThread.start(name: "edge-test-wait") {
                condition.lock()
                var set = flag.withLock { $0 }
                while !set, condition.wait(until: ContinuousClock.now.advanced(by: .seconds(30))) { set = flag.withLock { $0 } }
                condition.unlock()
                continuation.resume(returning: set)
            }
            DedicatedThread.start(name: "edge-test-signal") {
                condition.lock()
                flag.withLock { $0 = true }
                condition.broadcast()
                condition.unlock()
            }
        }
        XCTAssertTrue(woken)
    }
}

final class DecimalTextTests: XCTestCase {
    func testOneDecimalRoundsLikePrintf() {
        XCTAssertEqual(DecimalText.oneDecimal(12.34), "12.3")
        XCTAssertEqual(DecimalText.oneDecimal(12.36), "12.4")
        XCTAssertEqual(DecimalText.oneDecimal(3), "3.0")
        XCTAssertEqual(DecimalText.oneDecimal(-0.26), "-0.3")
        XCTAssertEqual(DecimalText.oneDecimal(0), "0.0")
        XCTAssertEqual(DecimalText.oneDecimal(86_399.96), "86400.0")
    }

    func testTrimming() {
        XCTAssertEqual(" \t key \n\r\n".trimmingWhitespace, "key")
        XCTAssertEqual("\"Debian GNU/Linux 12\"".trimming(["\""]), "Debian GNU/Linux 12")
        XCTAssertEqual("'name'".trimming(["\"", "'"]), "name")
    }
}

final class PathResolutionTests: XCTestCase {
    func testRelativePathsResolveAgainstTheConfigurationsFolder() {
        XCTAssertEqual(FilePaths.resolve("data", against: "/etc/fhir-edge"), "/etc/fhir-edge/data")
        XCTAssertEqual(FilePaths.resolve("/var/lib/fhir-edge", against: "/etc/fhir-edge"), "/var/lib/fhir-edge")
        XCTAssertEqual(FilePaths.resolve("data", against: "."), "data")
        XCTAssertEqual(FilePaths.resolve("data", against: ""), "data")
        XCTAssertEqual(FilePaths.resolve("profiles", against: "/etc/"), "/etc/profiles")
    }
}
