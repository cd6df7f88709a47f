import EdgeCore
import Testing

struct WakeUpTests {
    @Test func aWakeUpIsNotLostWhenNobodyWaitsAndSeveralCountAsOne() async {
        let wakeUp = WakeUp()
        wakeUp.wake()
        wakeUp.wake()
        #expect(await wakeUp.wait())  // returns at once: the wake-up was kept
        let waiter = Task { await wakeUp.wait() }
        // Whether the waiter is already parked or not, the wake-up reaches it.
        await Task.yield()
        wakeUp.wake()
        #expect(await waiter.value)
    }

    @Test func cancellingAWaitEndsItWithoutEatingTheNextWakeUp() async {
        let wakeUp = WakeUp()
        let cancelled = Task { await wakeUp.wait() }
        cancelled.cancel()
        #expect(await cancelled.value == false)
        wakeUp.wake()
        #expect(await wakeUp.wait())
    }

    @Test func aLoopSeesTheWakeUpGivenBeforeFinishThenEnds() async {
        let wakeUp = WakeUp()
        wakeUp.wake()
        wakeUp.finish()
        wakeUp.wake()  // after finish: dropped
        var passes = 0
        for await _ in wakeUp.wakes { passes += 1 }
        #expect(passes == 1)
        #expect(await wakeUp.wait() == false)
    }

    @Test func finishEndsAParkedWait() async {
        let wakeUp = WakeUp()
        let waiter = Task { await wakeUp.wait() }
        await Task.yield()
        wakeUp.finish()
        #expect(await waiter.value == false)
    }
}
