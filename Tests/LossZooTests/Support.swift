import Autograd
import Foundation
import Objective
import PluginHost
import TensorCore
import Training
import XCTest

/// The built-in plugins, discovered next to the test products as the CLI finds them next to its
/// binary (`swift test` builds every product, the zoo plugins included).
enum Zoo {
    static let losses = ["hinge", "robust", "exo_pair", "nca_pair", "bco_pair", "sppo_hard", "aot", "aot_pair",
                         "apo_zero", "apo_down", "discopop", "rpo", "simpo"]

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

/// `Golden/zoo_golden.json`, written by `Golden/make_zoo_golden.py` (float64 numpy formulas and
/// finite-difference gradients).
struct ZooGolden: Decodable {
    struct Case: Decodable {
        let name: String
        let plugin: String
        let options: [String: String]
        let calls: [Call]
    }

    /// One `compute` call on the case's plugin instance; calls run in order on one instance.
    struct Call: Decodable {
        let inputs: Inputs
        let expected: Expected
    }

    struct Inputs: Decodable {
        let pc, pr: [Float]
        let qc, qr, lc, lr: [Float]?
        let policy_token_logps, response_mask: [Float]?
        let token_shape: [Int]?
        let pair_weights: [Float]?
    }

    struct Expected: Decodable {
        let losses: [Float]
        let loss: Float
        let d_pc, d_pr: [Float]
        let rewards_chosen, rewards_rejected, accuracies, margins: [Float]
        let logps_chosen, logps_rejected: [Float]
        let d_policy_token_logps, nll_loss: [Float]?
    }

    let cases: [Case]

    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/zoo_golden.json")
    static let shared: ZooGolden = try! JSONDecoder().decode(ZooGolden.self, from: Data(contentsOf: url))

    static func named(_ name: String) throws -> Case {
        try XCTUnwrap(shared.cases.first { $0.name == name }, "no golden case '\(name)'")
    }
}

func vector(_ values: [Float]) -> Variable { Variable(try! Tensor(shape: [values.count], values: values)) }
func leaf(_ values: [Float], shape: [Int]? = nil) -> Variable {
    Variable(try! Tensor(shape: shape ?? [values.count], values: values), requiresGrad: true)
}

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

/// A small preference batch through the real input builder: 2 pairs (4 rows), T = 5, V = 6,
/// a 2-token prompt, then response labels (row 1's last label ignored).
func syntheticBatch() throws -> LossBatch {
    let rows = 4, t = 5, v = 6
    func logits(_ seed: Int) throws -> Tensor {
        try Tensor(shape: [rows, t, v], values: (0..<(rows * t * v)).map { Float(($0 * seed + 3) % 17) * 0.25 - 2 })
    }
    let labels = try IndexTensor(shape: [rows, t], values: (0..<rows).flatMap { r -> [Int32] in
        [-100, -100, Int32(r % v), Int32((r + 2) % v), r == 1 ? -100 : 4]
    })
    return try LossBatch(policyLogits: Variable(try logits(7), requiresGrad: true), referenceLogits: Variable(try logits(5)),
                         labels: labels, layout: .preference)
}
