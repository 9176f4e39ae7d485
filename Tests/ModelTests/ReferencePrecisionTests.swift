import Autograd
import Foundation
@testable import Model
import TensorCore
@testable import Training
import XCTest

/// `reference_dtype`: the reference's weights cast to float16 or bfloat16 and held as 16-bit
/// values, expanded one unit at a time for the forward.
final class ReferencePrecisionTests: XCTestCase {
    let ids = try! IndexTensor(shape: [2, 5], values: [1, 5, 9, 3, 2, 7, 7, 4, 0, 0])
    let mask = try! IndexTensor(shape: [2, 5], values: [1, 1, 1, 1, 1, 1, 1, 1, 0, 0])

    func logits(_ model: LanguageModel) throws -> [Float] {
        try model.forward(ids: ids, mask: mask, tape: Tape(pool: .serial, recording: false)).value.scalars
    }

    func testCompactWeightsGiveTheForwardOfTheRoundedWeightsExactly() throws {
        for name in ["gpt2-tiny", "pythia-tiny", "llama-tiny"] {
            for precision in [WeightPrecision.float16, .bfloat16] {
                let compact = try LanguageModel(directory: ModelFixtures.model(name), registry: ModelFixtures.registry(), trainable: false)
                compact.castWeights(to: precision)
                try compact.compactWeights()
                let plain = try LanguageModel(directory: ModelFixtures.model(name), registry: ModelFixtures.registry(), trainable: false)
                for p in plain.parameters {
                    for i in 0..<p.variable.value.count { p.variable.value.pointer[i] = precision.round(p.variable.value.pointer[i]) }
                }
                XCTAssertEqual(try logits(compact), try logits(plain), "\(name) \(precision)")
                // Twice: the units expanded again after being freed give the same values.
                XCTAssertEqual(try logits(compact), try logits(plain), "\(name) \(precision), second forward")
            }
        }
    }

    func testCompactWeightsHoldHalfTheBytesAndNoUnitStaysExpanded() throws {
        let model = try LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: ModelFixtures.registry(), trainable: false)
        model.castWeights(to: .float16)
        try model.compactWeights()
        let store = try XCTUnwrap(model.store as? CompactParameters)
        XCTAssertEqual(store.heldBytes, model.parameterCount * 2)
        _ = try logits(model)
        XCTAssertTrue(model.parameters.allSatisfy { !$0.variable.value.storage.isResident }, "every unit is freed after the forward")
    }

    func testLoadingAndMixingRoundToTheReferenceType() throws {
        let policy = try LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: ModelFixtures.registry(), trainable: true)
        let reference = try LanguageModel(directory: ModelFixtures.model("pythia-tiny"), registry: ModelFixtures.registry(), trainable: false)
        reference.castWeights(to: .bfloat16)
        try reference.compactWeights()
        for p in policy.parameters { for i in 0..<p.variable.value.count { p.variable.value.pointer[i] += 0.001 } }
        try reference.mix(toward: policy, alpha: 0.5)
        for (name, t) in try XCTUnwrap(reference.store?.fullState()) {
            for i in 0..<t.count { XCTAssertEqual(t.pointer[i], WeightPrecision.bfloat16.round(t.pointer[i]), name) }
        }
        try reference.load(weights: policy.state, from: "policy")
        let loaded = try XCTUnwrap(reference.store?.fullState())
        for p in policy.parameters {
            let t = try XCTUnwrap(loaded[p.name])
            for i in 0..<t.count { XCTAssertEqual(t.pointer[i], WeightPrecision.bfloat16.round(p.variable.value.pointer[i]), p.name) }
        }
    }

    func testAnUnknownReferenceTypeNamesTheKey() {
        XCTAssertThrowsError(try WeightPrecision(configValue: "int8")) { XCTAssertTrue("\($0)".contains("model.reference_dtype=int8"), "\($0)") }
    }
}
