import XCTest
import Autograd
import TensorCore

/// `Tape.profile`: each op's calls, forward and backward time, under the op's own name.
final class OpProfileTests: XCTestCase {
    func testAProfiledTapeCountsEachOpAndTimesItsForwardAndBackward() throws {
        var rng = SplitMix64(seed: 3)
        let tape = Tape(pool: .serial)
        let profile = OpProfile()
        tape.profile = profile
        let x = Variable(Tensor.randomNormal([64, 32], using: &rng), requiresGrad: true)
        let w = Variable(Tensor.randomNormal([48, 32], using: &rng), requiresGrad: true)
        profile.restartClock()
        let y = try tape.linear(try tape.linear(x, weight: w, bias: nil), weight: Variable(Tensor.randomNormal([8, 48], using: &rng)))
        try tape.backward(try tape.sum(y))
        XCTAssertEqual(Set(profile.entries.keys), ["linear", "sum"])
        let linear = try XCTUnwrap(profile.entries["linear"])
        XCTAssertEqual(linear.calls, 2)
        XCTAssertGreaterThan(linear.forwardSeconds, 0)
        XCTAssertGreaterThan(linear.backwardSeconds, 0)
        XCTAssertEqual(profile.entries["sum"]?.calls, 1)
        profile.reset()
        XCTAssertTrue(profile.entries.isEmpty)
    }

    func testAnUnprofiledTapeRecordsTheSameValues() throws {
        var rng = SplitMix64(seed: 4)
        let xv = Tensor.randomNormal([5, 6], using: &rng), wv = Tensor.randomNormal([3, 6], using: &rng)
        func run(_ profiled: Bool) throws -> [Float] {
            let tape = Tape(pool: .serial)
            if profiled { tape.profile = OpProfile() }
            let w = Variable(wv.copy(), requiresGrad: true)
            try tape.backward(try tape.sum(try tape.linear(Variable(xv), weight: w)))
            return w.grad!.scalars
        }
        XCTAssertEqual(try run(true), try run(false))
    }
}
