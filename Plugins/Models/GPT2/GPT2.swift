import DPOHostSDK
#if canImport(Glibc)
import Glibc
#endif

// GPT-2 (transformers' GPT2LMHeadModel), as docs/spec/models.md §2 specifies: learned absolute
// positions, pre-LN blocks, Conv1D weights stored [in, out] with q|k|v as column blocks,
// tanh-approximated GELU, output matrix tied to wte. Names carry the `transformer.` prefix of
// files saved from GPT2LMHeadModel; the host also finds hub files without it.

struct GPT2Config {
    let embed, heads, layers, inner, vocab, positions: Int
    let eps: Float
    let scaleByInverseLayer: Bool
    let scaleWeights: Bool

    init(_ host: Host) throws {
        if let type = try host.configString("model_type"), type != "gpt2" {
            throw DPHError(Int32(DPH_ERR_UNSUPPORTED), "config.json model_type '\(type)' is not gpt2")
        }
        embed = try host.requireConfigSize("n_embd")
        heads = try host.requireConfigSize("n_head")
        layers = try host.requireConfigSize("n_layer")
        inner = try host.configSize("n_inner") ?? 4 * embed
        vocab = try host.requireConfigSize("vocab_size")
        positions = try host.configSize("n_positions") ?? 1024
        guard heads > 0, embed % heads == 0 else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "n_embd \(embed) is not divisible by n_head \(heads)")
        }
        // As soon as the sizes are read: embeddings and each block's matrices (the norms and
        // biases are a rounding error).
        try host.checkParameterCount(Double(vocab + positions) * Double(embed)
                                     + Double(layers) * Double(embed) * Double(4 * embed + 2 * inner))
        eps = Float(try host.configFloat("layer_norm_epsilon") ?? 1e-5)
        scaleByInverseLayer = try host.configBool("scale_attn_by_inverse_layer_idx") ?? false
        scaleWeights = try host.configBool("scale_attn_weights") ?? true
        if let act = try host.configString("activation_function"), !["gelu_new", "gelu_pytorch_tanh", "gelu_fast"].contains(act) {
            throw DPHError(Int32(DPH_ERR_UNSUPPORTED), "activation_function '\(act)' is not supported for gpt2 (expected gelu_new)")
        }
        if let tied = try host.configBool("tie_word_embeddings"), !tied {
            throw DPHError(Int32(DPH_ERR_UNSUPPORTED), "an untied GPT-2 head (tie_word_embeddings false) is not supported")
        }
    }
}

extension GPT2Config: TransformerConfig {
    static let blocksReadPositions = false

    func declareParameters(_ host: Host) throws {
        let (c, e) = (self, embed)
        try host.declareParameter("transformer.wte.weight", [c.vocab, e])
        try host.declareParameter("transformer.wpe.weight", [c.positions, e])
        for l in 0..<c.layers {
            let p = "transformer.h.\(l)."
            for norm in ["ln_1", "ln_2"] {
                try host.declareParameter(p + norm + ".weight", [e])
                try host.declareParameter(p + norm + ".bias", [e])
            }
            // Conv1D layout [in, out]: column-parallel splits the second axis.
            try host.declareParameter(p + "attn.c_attn.weight", [e, 3 * e], parallel: DPH_PARALLEL_COLUMN)
            try host.declareParameter(p + "attn.c_attn.bias", [3 * e])
            try host.declareParameter(p + "attn.c_proj.weight", [e, e], parallel: DPH_PARALLEL_ROW)
            try host.declareParameter(p + "attn.c_proj.bias", [e])
            try host.declareParameter(p + "mlp.c_fc.weight", [e, c.inner], parallel: DPH_PARALLEL_COLUMN)
            try host.declareParameter(p + "mlp.c_fc.bias", [c.inner])
            try host.declareParameter(p + "mlp.c_proj.weight", [c.inner, e], parallel: DPH_PARALLEL_ROW)
            try host.declareParameter(p + "mlp.c_proj.bias", [e])
        }
        try host.declareParameter("transformer.ln_f.weight", [e])
        try host.declareParameter("transformer.ln_f.bias", [e])
    }

    /// Token and learned position embeddings.
    func embeddings(_ host: Host, ids: dph_tensor, positions: dph_tensor) throws -> dph_tensor {
        let p = { (name: String) in try host.parameter("transformer." + name) }
        return try host.add(host.embedding(ids, p("wte.weight")), host.embedding(positions, p("wpe.weight")))
    }

    func logits(_ host: Host, _ hidden: dph_tensor) throws -> dph_tensor {
        let p = { (name: String) in try host.parameter("transformer." + name) }
        let x = try host.layerNorm(hidden, weight: p("ln_f.weight"), bias: p("ln_f.bias"), eps: eps)
        return try host.lmHead(x, p("wte.weight"))   // tied head
    }

    /// Block `transformer.h.{layer}`: inputs are the hidden state [B, T, E] and the attention mask.
    func block(_ host: Host, _ inputs: [dph_tensor], layer: Int32, keysOnly: Bool) throws -> dph_tensor {
        let (x, mask) = (inputs[0], inputs[1])
        let c = self
        let dims = try host.shape(x)
        let (b, t, e) = (dims[0], dims[1], c.embed)
        let hd = e / c.heads
        let l = Int(layer)
        let p = { (name: String) in try host.parameter("transformer.h.\(l)." + name) }
        let normed = try host.layerNorm(x, weight: p("ln_1.weight"), bias: p("ln_1.bias"), eps: c.eps)
        let qkv = try host.linear(normed, p("attn.c_attn.weight"), bias: p("attn.c_attn.bias"), layout: DPH_LINEAR_IN_OUT)
        let parts = try host.split(qkv, sizes: [e, e, e], axis: 2).map { try host.reshape($0, [b, t, c.heads, hd]) }
        let kv = try host.kvCacheAppend(layer: l, key: parts[1], value: parts[2])
        if keysOnly { return x }
        var scale: Float = c.scaleWeights ? 1 / Float(hd).squareRoot() : 1
        if c.scaleByInverseLayer { scale /= Float(l + 1) }
        let attended = try host.reshape(host.attention(query: parts[0], key: kv.key, value: kv.value,
                                                       keyMask: mask, scale: scale), [b, t, e])
        let h = try host.add(x, host.linear(attended, p("attn.c_proj.weight"), bias: p("attn.c_proj.bias"), layout: DPH_LINEAR_IN_OUT))
        let m = try host.layerNorm(h, weight: p("ln_2.weight"), bias: p("ln_2.bias"), eps: c.eps)
        let up = try host.gelu(host.linear(m, p("mlp.c_fc.weight"), bias: p("mlp.c_fc.bias"), layout: DPH_LINEAR_IN_OUT),
                               tanhApproximation: true)
        return try host.add(h, host.linear(up, p("mlp.c_proj.weight"), bias: p("mlp.c_proj.bias"), layout: DPH_LINEAR_IN_OUT))
    }
}

/// The `gpt2` plugin's descriptor.
enum GPT2Model: RegisteredModel {
    static let plugin = ModelDescription(
        name: "gpt2",
        summary: "GPT-2 (Conv1D layout, learned positions, tied head)",
        blockName: "transformer.h.{i}", modelTypes: ["gpt2"], blockClasses: ["GPT2Block"],
        positionLimitKey: "n_positions",
        attendsThroughHost: true,
        configure: { ModelEntry.configure($0, $1, $2, as: GPT2Config.self) },
        forward: { ModelEntry.forward($0, $1, $2, $3, $4, as: GPT2Config.self) })
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { ModelExport.abiVersion }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    ModelExport.initialize(desc, as: GPT2Model.self)
}
