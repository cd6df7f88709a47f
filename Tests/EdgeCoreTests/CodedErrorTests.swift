import EdgeCore
import Testing

struct CodedErrorTests {
    private struct Disk: Error {}

    private struct Lower: CodedError {
        var code: String { "disk-full" }
        var message: String { "no space left on /var/lib/fhir-edge" }
        var cause: (any Error)?
        var description: String { message }
    }

    private struct Upper: CodedError {
        enum Code: String, Hashable, Sendable, CustomStringConvertible {
            case storeError = "store-error"
            var description: String { rawValue }
        }
        var code: Code { .storeError }
        var message: String { "could not commit the batch" }
        var cause: (any Error)?
        var description: String { message }
    }

    @Test func theCauseChainRunsFromTheOutermostErrorToTheFirstFailure() {
        let error = Upper(cause: Lower(cause: Disk()))
        let chain = error.causeChain
        #expect(chain.count == 3)
        #expect(chain[0] is Upper)
        #expect(chain[1] is Lower)
        #expect(chain[2] is Disk)
        #expect(error.codeText == "store-error")
        #expect(Lower(cause: nil).causeChain.count == 1)
    }

    @Test func aRefusalKeepsItsCauseButComparesByCodeAndReason() {
        let refusal = IntakeRefusal(code: "store-error", reason: "nothing was accepted", cause: Lower(cause: nil))
        #expect(refusal == IntakeRefusal(code: "store-error", reason: "nothing was accepted"))
        #expect(refusal != IntakeRefusal(code: "disk-full", reason: "nothing was accepted"))
        #expect(refusal.cause is Lower)
        #expect(refusal.message == "nothing was accepted")
        #expect(refusal.causeChain.count == 2)
    }
}
