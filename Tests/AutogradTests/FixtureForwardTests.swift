import Checkpoint
import Foundation
import XCTest
import Autograd
import TensorCore

/// The core ops, composed as transformers composes them, reproduce the golden logits and
/// log-probs of the fixtures in Tests/Fixtures (made with PyTorch + transformers): this checks attention (padding
/// mask, grouped-query heads), rotary (full and partial), the norms, both GELUs and the fused
/// label-log-prob op against PyTorch. Tolerances are the fixtures README's.
final class FixtureForwardTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    func golden(_ model: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(path: Self.fixtures.appendingPathComponent("golden/forward-\(model).safetensors").path)
    }

    /// Per-token, summed and mean log-probs from the GOLDEN logits (no model involved).
    func testLabelLogProbsReproduceGoldenLogProbsFromGoldenLogits() throws {
        for model in ["gpt2-tiny", "pythia-tiny", "pythia-tiny-seq", "pythia-tiny-ref", "llama-tiny"] {
            let g = try golden(model)
            let tape = Tape(pool: .serial, recording: false)
            let logits = Variable(try g.floatTensor(named: "logits"))
            let labels = try g.indexTensor(named: "labels")
            let perToken = try tape.labelLogProbs(logits: logits, labels: labels)
            try assertClose(perToken.value, g.floatTensor(named: "per_token_logps"), atol: 1e-5, "\(model) per-token")
            let sums = try tape.sum(perToken, axis: 1)
            try assertClose(sums.value, g.floatTensor(named: "logps_sum"), atol: 2e-4, rtol: 1e-5, "\(model) sum")
            let mask = try g.indexTensor(named: "loss_mask")
            let counts = (0..<3).map { r in Float((0..<23).filter { mask[r, $0] != 0 }.count) }
            let means = try tape.div(sums, Variable(Tensor(shape: [3], values: counts)))
            try assertClose(means.value, g.floatTensor(named: "logps_mean"), atol: 2e-5, "\(model) mean")
        }
    }

    func testGPT2ForwardMatchesGoldenLogits() throws {
        try checkForward("gpt2-tiny", ReferenceForward.gpt2)
    }

    func testShardedGPT2CheckpointGivesIdenticalLogits() throws {
        try checkForward("gpt2-tiny", modelDirectory: "gpt2-tiny-sharded", ReferenceForward.gpt2)
    }

    func testPythiaParallelResidualForwardMatchesGoldenLogits() throws {
        try checkForward("pythia-tiny", ReferenceForward.neox)
        try checkForward("pythia-tiny-ref", ReferenceForward.neox)
    }

    func testPythiaSequentialResidualForwardMatchesGoldenLogits() throws {
        try checkForward("pythia-tiny-seq", ReferenceForward.neox)
    }

    func testLlamaForwardWithGroupedQueryAttentionMatchesGoldenLogits() throws {
        try checkForward("llama-tiny", ReferenceForward.llama)
    }

    // MARK: helpers

    func checkForward(_ model: String, modelDirectory: String? = nil,
                      _ forward: (Tape, ModelDirectory, IndexTensor, IndexTensor) throws -> Variable,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        let g = try golden(model)
        let dir = try ModelDirectory(path: Self.fixtures.appendingPathComponent("models/\(modelDirectory ?? model)").path)
        let ids = try g.indexTensor(named: "input_ids"), mask = try g.indexTensor(named: "attention_mask")
        let tape = Tape(pool: WorkerPool(threads: 2), recording: false)
        let logits = try forward(tape, dir, ids, mask)
        let expected = try g.floatTensor(named: "logits")
        XCTAssertEqual(logits.shape, expected.shape, file: file, line: line)
        // Compare only real positions (padded queries are meaningless).
        let v = expected.shape[2]
        var worst: Float = 0
        for b in 0..<3 { for t in 0..<24 where mask[b, t] != 0 {
            for k in 0..<v {
                let a = logits.value[b, t, k], e = expected[b, t, k]
                worst = max(worst, abs(a - e) - 1e-4 * abs(e))
            }
        } }
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(model): logits differ beyond atol 1e-4 + rtol 1e-4", file: file, line: line)
        let lp = try tape.sum(tape.labelLogProbs(logits: logits, labels: g.indexTensor(named: "labels")), axis: 1)
        try assertClose(lp.value, g.floatTensor(named: "logps_sum"), atol: 2e-4, rtol: 1e-5, "\(model) logps_sum", file: file, line: line)
    }

    func assertClose(_ a: Tensor, _ b: Tensor, atol: Float, rtol: Float = 0, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        for (x, y) in zip(a.scalars, b.scalars) where abs(x - y) > atol + rtol * abs(y) {
            XCTFail("\(what): \(x) vs \(y)", file: file, line: line)
            return
        }
    }
}

/// The three architectures written directly with the core ops, as docs/spec/models.md §2-§4 specify them.
enum ReferenceForward {
    static func param(_ d: ModelDirectory, _ name: String) throws -> Variable { Variable(try d.floatTensor(named: name)) }
    static func int(_ c: [String: JSONValue], _ k: String) -> Int { c[k]!.intValue! }
    static func positions(_ t: Int) throws -> IndexTensor { try IndexTensor(shape: [t], values: (0..<t).map(Int32.init)) }

    static func gpt2(_ tape: Tape, _ d: ModelDirectory, _ ids: IndexTensor, _ mask: IndexTensor) throws -> Variable {
        let c = try d.configObject()
        let (e, heads, layers) = (int(c, "n_embd"), int(c, "n_head"), int(c, "n_layer"))
        let (b, t) = (ids.shape[0], ids.shape[1])
        let p = { (n: String) in try param(d, "transformer." + n) }
        let pos = try IndexTensor(shape: [t], values: (0..<t).map(Int32.init))
        var x = try tape.add(tape.embedding(ids, table: p("wte.weight")), tape.embedding(pos, table: p("wpe.weight")))
        for i in 0..<layers {
            let h = "h.\(i)."
            let a = try tape.layerNorm(x, weight: p(h + "ln_1.weight"), bias: p(h + "ln_1.bias"), eps: 1e-5)
            let qkv = try tape.linear(a, weight: p(h + "attn.c_attn.weight"), bias: p(h + "attn.c_attn.bias"), layout: .inOut)
            let parts = try tape.split(qkv, sizes: [e, e, e], axis: 2).map { try tape.reshape($0, [b, t, heads, e / heads]) }
            let att = try tape.reshape(tape.attention(query: parts[0], key: parts[1], value: parts[2], keyMask: mask), [b, t, e])
            x = try tape.add(x, tape.linear(att, weight: p(h + "attn.c_proj.weight"), bias: p(h + "attn.c_proj.bias"), layout: .inOut))
            let m = try tape.layerNorm(x, weight: p(h + "ln_2.weight"), bias: p(h + "ln_2.bias"), eps: 1e-5)
            let up = try tape.gelu(tape.linear(m, weight: p(h + "mlp.c_fc.weight"), bias: p(h + "mlp.c_fc.bias"), layout: .inOut), approximation: .tanh)
            x = try tape.add(x, tape.linear(up, weight: p(h + "mlp.c_proj.weight"), bias: p(h + "mlp.c_proj.bias"), layout: .inOut))
        }
        x = try tape.layerNorm(x, weight: p("ln_f.weight"), bias: p("ln_f.bias"), eps: 1e-5)
        return try tape.linear(x, weight: p("wte.weight"))   // tied head
    }

    static func neox(_ tape: Tape, _ d: ModelDirectory, _ ids: IndexTensor, _ mask: IndexTensor) throws -> Variable {
        let c = try d.configObject()
        let (hidden, heads, layers) = (int(c, "hidden_size"), int(c, "num_attention_heads"), int(c, "num_hidden_layers"))
        let rope = c["rope_parameters"]?.objectValue ?? [:]
        let pct = rope["partial_rotary_factor"]?.doubleValue ?? 0.25
        let base = Float(rope["rope_theta"]?.doubleValue ?? 10000)
        let parallel = c["use_parallel_residual"]?.boolValue ?? true
        let eps = Float(c["layer_norm_eps"]?.doubleValue ?? 1e-5)
        let hd = hidden / heads, r = Int(Double(hd) * pct)
        let inv = RotaryKernel.inverseFrequencies(rotaryDims: r, base: base)
        let (b, t) = (ids.shape[0], ids.shape[1])
        let p = { (n: String) in try param(d, n) }
        var x = try tape.embedding(ids, table: p("gpt_neox.embed_in.weight"))
        for i in 0..<layers {
            let l = "gpt_neox.layers.\(i)."
            let a = try tape.layerNorm(x, weight: p(l + "input_layernorm.weight"), bias: p(l + "input_layernorm.bias"), eps: eps)
            let qkv = try tape.reshape(tape.linear(a, weight: p(l + "attention.query_key_value.weight"),
                                                   bias: p(l + "attention.query_key_value.bias")), [b, t, heads, 3 * hd])
            let parts = try tape.split(qkv, sizes: [hd, hd, hd], axis: 3)   // per-head (q, k, v) interleaving
            let q = try tape.rotary(parts[0], positions: positions(t), rotaryDims: r, inverseFrequencies: inv)
            let k = try tape.rotary(parts[1], positions: positions(t), rotaryDims: r, inverseFrequencies: inv)
            let att = try tape.reshape(tape.attention(query: q, key: k, value: parts[2], keyMask: mask), [b, t, hidden])
            let attOut = try tape.linear(att, weight: p(l + "attention.dense.weight"), bias: p(l + "attention.dense.bias"))
            let mlpIn = parallel ? x : try tape.add(x, attOut)
            let m = try tape.layerNorm(mlpIn, weight: p(l + "post_attention_layernorm.weight"), bias: p(l + "post_attention_layernorm.bias"), eps: eps)
            let up = try tape.gelu(tape.linear(m, weight: p(l + "mlp.dense_h_to_4h.weight"), bias: p(l + "mlp.dense_h_to_4h.bias")), approximation: .erf)
            let mlpOut = try tape.linear(up, weight: p(l + "mlp.dense_4h_to_h.weight"), bias: p(l + "mlp.dense_4h_to_h.bias"))
            x = parallel ? try tape.add(tape.add(x, attOut), mlpOut) : try tape.add(mlpIn, mlpOut)
        }
        x = try tape.layerNorm(x, weight: p("gpt_neox.final_layer_norm.weight"), bias: p("gpt_neox.final_layer_norm.bias"), eps: eps)
        return try tape.linear(x, weight: p("embed_out.weight"))
    }

    static func llama(_ tape: Tape, _ d: ModelDirectory, _ ids: IndexTensor, _ mask: IndexTensor) throws -> Variable {
        let c = try d.configObject()
        let (hidden, heads, layers) = (int(c, "hidden_size"), int(c, "num_attention_heads"), int(c, "num_hidden_layers"))
        let kvHeads = c["num_key_value_heads"]?.intValue ?? heads
        let hd = c["head_dim"]?.intValue ?? hidden / heads
        let eps = Float(c["rms_norm_eps"]?.doubleValue ?? 1e-6)
        let base = Float(c["rope_parameters"]?["rope_theta"]?.doubleValue ?? c["rope_theta"]?.doubleValue ?? 10000)
        let inv = RotaryKernel.inverseFrequencies(rotaryDims: hd, base: base)
        let (b, t) = (ids.shape[0], ids.shape[1])
        let p = { (n: String) in try param(d, n) }
        var x = try tape.embedding(ids, table: p("model.embed_tokens.weight"))
        for i in 0..<layers {
            let l = "model.layers.\(i)."
            let a = try tape.rmsNorm(x, weight: p(l + "input_layernorm.weight"), eps: eps)
            let q = try tape.rotary(tape.reshape(tape.linear(a, weight: p(l + "self_attn.q_proj.weight")), [b, t, heads, hd]),
                                    positions: positions(t), rotaryDims: hd, inverseFrequencies: inv)
            let k = try tape.rotary(tape.reshape(tape.linear(a, weight: p(l + "self_attn.k_proj.weight")), [b, t, kvHeads, hd]),
                                    positions: positions(t), rotaryDims: hd, inverseFrequencies: inv)
            let v = try tape.reshape(tape.linear(a, weight: p(l + "self_attn.v_proj.weight")), [b, t, kvHeads, hd])
            let att = try tape.reshape(tape.attention(query: q, key: k, value: v, keyMask: mask), [b, t, heads * hd])
            x = try tape.add(x, tape.linear(att, weight: p(l + "self_attn.o_proj.weight")))
            let m = try tape.rmsNorm(x, weight: p(l + "post_attention_layernorm.weight"), eps: eps)
            let gated = try tape.mul(tape.silu(tape.linear(m, weight: p(l + "mlp.gate_proj.weight"))),
                                     tape.linear(m, weight: p(l + "mlp.up_proj.weight")))
            x = try tape.add(x, tape.linear(gated, weight: p(l + "mlp.down_proj.weight")))
        }
        x = try tape.rmsNorm(x, weight: p("model.norm.weight"), eps: eps)
        return try tape.linear(x, weight: p("lm_head.weight"))
    }
}
