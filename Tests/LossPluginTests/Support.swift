import Autograd
import Checkpoint
import Foundation
import Model
import Objective
import PluginHost
import TensorCore
import Training
import XCTest

/// The fixture folder and the loss goldens (fixtures README section 4).
enum LossFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static func model(_ name: String) -> String { root.appendingPathComponent("models/\(name)").path }

    static func golden(_ variant: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: root.appendingPathComponent("golden/loss-\(variant).safetensors").path)
    }

    /// transformers 5 names NeoX's output matrix `lm_head.weight` in memory (so in the goldens'
    /// `grad.*`), while the checkpoint and the pythia plugin call it `embed_out.weight`.
    static func goldenGradientName(_ parameter: String) -> String {
        "grad." + (parameter == "embed_out.weight" ? "lm_head.weight" : parameter)
    }

    /// The built-in plugins, discovered next to the test products exactly as the CLI finds them
    /// next to its binary (`swift test` builds every product, the plugins included).
    static func registry() throws -> PluginRegistry {
        let registry = PluginRegistry()
        try PluginDiscovery(builtinDirectory: Bundle.main.bundleURL.path, installDirectory: nil, searchPath: [], explicit: [])
            .discover(into: registry)
        return registry
    }

    static func loss(_ name: String, _ options: [String: String] = [:]) throws -> LossPlugin {
        try LossPlugin(try registry().resolve(kind: .loss, name: name), options: options)
    }
}

/// One golden loss file and the plugin configuration that should reproduce it.
struct LossVariant {
    let golden: String
    let pluginName: String
    let options: [String: String]

    static let sft = LossVariant(golden: "sft", pluginName: "sft", options: [:])
    static let dpo = LossVariant(golden: "dpo", pluginName: "dpo", options: ["beta": "0.1"])
    /// cdpo's own default label_smoothing (0.2) is what the golden used.
    static let cdpo = LossVariant(golden: "cdpo", pluginName: "cdpo", options: ["beta": "0.1"])
    static let ipo = LossVariant(golden: "ipo", pluginName: "ipo", options: ["beta": "0.1"])
    static let referenceFree = LossVariant(golden: "dpo_reference_free", pluginName: "dpo",
                                           options: ["beta": "0.1", "reference_free": "true"])
    static let averaged = LossVariant(golden: "dpo_avg_logp", pluginName: "dpo",
                                      options: ["beta": "0.1", "average_log_prob": "true"])
    static let tdpo1 = LossVariant(golden: "tdpo1", pluginName: "tdpo", options: ["beta": "0.1"])
    static let tdpo2 = LossVariant(golden: "tdpo2", pluginName: "tdpo", options: ["beta": "0.1", "if_tdpo2": "true", "alpha": "0.5"])

    static let sequenceLevel: [LossVariant] = [.dpo, .cdpo, .ipo, .referenceFree, .averaged]
    static let all: [LossVariant] = [.sft] + sequenceLevel + [.tdpo1, .tdpo2]

    func plugin() throws -> LossPlugin { try LossFixtures.loss(pluginName, options) }
    func file() throws -> SafeTensorsFile { try LossFixtures.golden(golden) }
}

/// `[4]` response lengths of the golden batch's chosen and rejected rows (shifted labels != -100).
func responseLengths(_ labels: IndexTensor) -> [Float] {
    let t = labels.shape[1]
    return (0..<labels.shape[0]).map { n in Float((1..<t).filter { labels[n, $0] != -100 }.count) }
}

func vector(_ values: [Float]) -> Variable { Variable(try! Tensor(shape: [values.count], values: values)) }
func leaf(_ values: [Float]) -> Variable { Variable(try! Tensor(shape: [values.count], values: values), requiresGrad: true) }

/// `|a - b| <= atol + rtol |b|` elementwise, failing once with the worst element.
func assertClose(_ actual: [Float], _ expected: [Float], atol: Float, rtol: Float = 0, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): count", file: file, line: line)
    var worst: (Int, Float)?
    for (i, (a, b)) in zip(actual, expected).enumerated() {
        let excess = abs(a - b) - (atol + rtol * abs(b))
        if !(excess <= 0), worst == nil || excess > worst!.1 || excess.isNaN { worst = (i, excess.isNaN ? .infinity : excess) }
    }
    if let (i, _) = worst {
        XCTFail("\(what): element \(i) is \(actual[i]), expected \(expected[i]) (atol \(atol), rtol \(rtol))", file: file, line: line)
    }
}

/// The fixtures README's gradient criterion: `max|a - b| <= 1e-4 * max|golden|` per tensor.
func assertGradientClose(_ actual: [Float], _ expected: [Float], _ what: String,
                         file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): count", file: file, line: line)
    let scale = expected.map(abs).max() ?? 0
    let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
    XCTAssertGreaterThan(scale, 0, "\(what): the golden gradient is all zero", file: file, line: line)
    XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "\(what): max |a-b| \(worst) vs max |golden| \(scale)", file: file, line: line)
}

/// pythia-tiny (the policy, trainable) and pythia-tiny-ref (the frozen reference), loaded
/// through the built-in `dph_pythia` model plugin as a trainer loads them.
struct PreferenceModels {
    let policy: LanguageModel
    let reference: LanguageModel
    let pool = WorkerPool(threads: 2)

    init() throws {
        let registry = try LossFixtures.registry()
        policy = try LanguageModel(directory: LossFixtures.model("pythia-tiny"), registry: registry, trainable: true)
        reference = try LanguageModel(directory: LossFixtures.model("pythia-tiny-ref"), registry: registry, trainable: false)
    }

    /// The reference's logits, computed without recording (no gradient, no saved activations).
    func referenceLogits(ids: IndexTensor, mask: IndexTensor) throws -> Variable {
        try reference.forward(ids: ids, mask: mask, tape: Tape(pool: pool, recording: false))
    }
}

/// A small batch for shape and naming checks: 2 pairs (4 rows), T = 5, V = 6; a 2-token prompt,
/// then response labels (row 1's last label ignored).
func syntheticBatch(layout: LossBatchLayout = .preference) throws -> LossBatch {
    let rows = layout == .preference ? 4 : 2, t = 5, v = 6
    func logits(_ seed: Int) throws -> Tensor {
        try Tensor(shape: [rows, t, v], values: (0..<(rows * t * v)).map { Float(($0 * seed + 3) % 17) * 0.25 - 2 })
    }
    let labels = try IndexTensor(shape: [rows, t], values: (0..<rows).flatMap { r -> [Int32] in
        [-100, -100, Int32(r % v), Int32((r + 2) % v), r == 1 ? -100 : 4]
    })
    return try LossBatch(policyLogits: Variable(try logits(7), requiresGrad: true),
                         referenceLogits: layout == .preference ? Variable(try logits(5)) : nil,
                         labels: labels, layout: layout)
}
