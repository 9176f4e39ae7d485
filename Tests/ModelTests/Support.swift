import Autograd
import Foundation
import Model
import Objective
import PluginHost
import TensorCore
import TestSupport
import Training
import XCTest

enum ModelFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static func model(_ name: String) -> String { root.appendingPathComponent("models/\(name)").path }
    static func golden(_ name: String) -> String { root.appendingPathComponent("golden/\(name)").path }

    /// The built-in plugins, discovered next to the test products as the CLI finds them next to
    /// the binary (`swift test` builds every product, plugins included).
    static func registry() throws -> PluginRegistry {
        let registry = PluginRegistry()
        try PluginDiscovery(builtinDirectory: Bundle.main.bundleURL.path, installDirectory: nil, searchPath: [], explicit: [])
            .discover(into: registry)
        return registry
    }

    static func temporaryDirectory() throws -> URL { try Repository.temporaryDirectory(prefix: "dpohost-model-") }

    /// A copy of a fixture model directory that a test may modify.
    static func copy(_ name: String) throws -> URL {
        let dst = try temporaryDirectory().appendingPathComponent(name)
        try FileManager.default.copyItem(atPath: model(name), toPath: dst.path)
        return dst
    }
}

/// One preference step of a fixture model against itself as the frozen reference (by default the
/// dpo plugin, beta 0.1), the policy perturbed so that the loss and its gradients are not those
/// of a tie.
struct FixtureDPOStep {
    let loss: Float
    let gradients: [String: [Float]]
    /// Ops the tape held right after the policy forward.
    let recordedOpsAfterForward: Int

    /// `prepare` sets up the policy and the `ModelLoss` (checkpointing, prompt sharing) before the
    /// step runs on `batch(vocab)`.
    init(_ name: String, loss: String = "dpo", options: [String: String] = ["beta": "0.1"],
         batch: (Int) throws -> (ids: IndexTensor, mask: IndexTensor, labels: IndexTensor),
         prepare: (LanguageModel, inout ModelLoss) -> Void = { _, _ in }) throws {
        let registry = try ModelFixtures.registry()
        let policy = try LanguageModel(directory: ModelFixtures.model(name), registry: registry, trainable: true)
        let reference = try LanguageModel(directory: ModelFixtures.model(name), registry: registry, trainable: false)
        for (i, p) in policy.parameters.enumerated() {
            let v = p.variable.value
            for k in 0..<v.count { v.pointer[k] += 0.01 * Float((k * 13 + i * 7) % 17 - 8) / 8 }
        }
        let plugin = try LossPlugin(registry.resolve(kind: .loss, name: loss), options: options)
        let pool = WorkerPool(threads: 2)
        var model = ModelLoss(policy: policy, reference: reference,
                              loss: CombinedLoss([WeightedLoss(name: loss, computation: LossComputation(plugin: plugin))]), pool: pool)
        prepare(policy, &model)
        let (ids, mask, labels) = try batch(policy.parameters[0].variable.shape[0])
        let tape = Tape(pool: pool)
        var opsAfterForward = 0
        let outcome = try model.compute(ids: ids, mask: mask, labels: labels, chosenOnly: false, split: .train, tape: tape) {
            if $0 == "policy forward" { opsAfterForward = tape.recordedOps }
        }
        try tape.backward(outcome.loss)
        var gradients: [String: [Float]] = [:]
        for p in policy.parameters { gradients[p.name] = try XCTUnwrap(p.variable.grad, p.name).scalars }
        (self.loss, self.gradients, recordedOpsAfterForward) = (outcome.loss.value.item, gradients, opsAfterForward)
    }
}

