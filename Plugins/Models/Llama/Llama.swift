import DPOHostSDK
#if canImport(Glibc)
import Glibc
#endif

// Llama (transformers' LlamaForCausalLM), as docs/spec/models.md §4 specifies: RMSNorm, rotary
// (rotate-half) over the full head dim with rope_theta, grouped-query attention, SwiGLU MLP,
// tied or untied head, optional linear / llama3 rope scaling.

struct LlamaConfig {
    let hidden, heads, kvHeads, headDim, layers, intermediate, vocab: Int
    let eps: Float
    let tiedHead, attentionBias, mlpBias: Bool
    let inverseFrequencies: [Float]
    /// `linear` rope scaling divides positions by this factor.
    let positionDivisor: Float

    init(_ host: Host) throws {
        if let type = try host.configString("model_type"), type != "llama" {
            throw DPHError(Int32(DPH_ERR_UNSUPPORTED), "config.json model_type '\(type)' is not llama")
        }
        hidden = try host.requireConfigSize("hidden_size")
        heads = try host.requireConfigSize("num_attention_heads")
        kvHeads = try host.configSize("num_key_value_heads") ?? heads
        layers = try host.requireConfigSize("num_hidden_layers")
        intermediate = try host.requireConfigSize("intermediate_size")
        vocab = try host.requireConfigSize("vocab_size")
        guard heads > 0, kvHeads > 0, heads % kvHeads == 0 else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "num_attention_heads \(heads) is not a multiple of num_key_value_heads \(kvHeads)")
        }
        headDim = try host.configSize("head_dim", atLeast: 2) ?? hidden / heads
        // Before anything is built from these sizes (the rotary table has head_dim / 2 entries):
        // embeddings and each block's matrices (the norms are a rounding error).
        let (q, kv) = (Double(heads) * Double(headDim), Double(kvHeads) * Double(headDim))
        try host.checkParameterCount(Double(vocab) * Double(hidden)
                                     + Double(layers) * Double(hidden) * (2 * q + 2 * kv + 3 * Double(intermediate)))
        eps = Float(try host.configFloat("rms_norm_eps") ?? 1e-6)
        tiedHead = try host.configBool("tie_word_embeddings") ?? false
        attentionBias = try host.configBool("attention_bias") ?? false
        mlpBias = try host.configBool("mlp_bias") ?? false
        if let act = try host.configString("hidden_act"), act != "silu" {
            throw DPHError(Int32(DPH_ERR_UNSUPPORTED), "hidden_act '\(act)' is not supported for llama (expected silu)")
        }
        let theta = try host.configFloat("rope_theta") ?? host.configFloat("rope_parameters.rope_theta") ?? 10000
        let d = headDim
        var inv = (0..<(d / 2)).map { i in 1 / pow(Float(theta), Float(2 * i) / Float(d)) }
        var divisor: Float = 1
        // Scaling lives in `rope_scaling` (transformers 4) or `rope_parameters` (transformers 5).
        let scalingType = try host.configString("rope_scaling.rope_type") ?? host.configString("rope_scaling.type")
            ?? host.configString("rope_parameters.rope_type")
        let prefix = try host.configString("rope_scaling.rope_type") != nil || host.configString("rope_scaling.type") != nil
            ? "rope_scaling." : "rope_parameters."
        switch scalingType ?? "default" {
        case "default": break
        case "linear":
            divisor = Float(try host.configFloat(prefix + "factor") ?? 1)
        case "llama3":
            let factor = try host.configFloat(prefix + "factor") ?? 8
            let low = try host.configFloat(prefix + "low_freq_factor") ?? 1
            let high = try host.configFloat(prefix + "high_freq_factor") ?? 4
            let original = try host.configFloat(prefix + "original_max_position_embeddings") ?? 8192
            let lowWavelen = original / low, highWavelen = original / high
            inv = inv.map { f in
                let wavelen = 2 * Double.pi / Double(f)
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return Float(Double(f) / factor) }
                let smooth = (original / wavelen - low) / (high - low)
                return Float((1 - smooth) * Double(f) / factor + smooth * Double(f))
            }
        case let other:
            throw DPHError(Int32(DPH_ERR_UNSUPPORTED), "rope scaling '\(other)' is not supported (default, linear and llama3 are)")
        }
        inverseFrequencies = inv
        positionDivisor = divisor
    }
}

extension LlamaConfig: TransformerConfig {
    static let blocksReadPositions = true

    func declareParameters(_ host: Host) throws {
        let c = self
        let (h, i, q, kv) = (c.hidden, c.intermediate, c.heads * c.headDim, c.kvHeads * c.headDim)
        try host.declareParameter("model.embed_tokens.weight", [c.vocab, h])
        for l in 0..<c.layers {
            let p = "model.layers.\(l)."
            try host.declareParameter(p + "input_layernorm.weight", [h])
            try host.declareParameter(p + "post_attention_layernorm.weight", [h])
            for (name, rows) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
                try host.declareParameter(p + "self_attn.\(name).weight", [rows, h], parallel: DPH_PARALLEL_COLUMN)
                if c.attentionBias { try host.declareParameter(p + "self_attn.\(name).bias", [rows]) }
            }
            try host.declareParameter(p + "self_attn.o_proj.weight", [h, q], parallel: DPH_PARALLEL_ROW)
            if c.attentionBias { try host.declareParameter(p + "self_attn.o_proj.bias", [h]) }
            for name in ["gate_proj", "up_proj"] {
                try host.declareParameter(p + "mlp.\(name).weight", [i, h], parallel: DPH_PARALLEL_COLUMN)
                if c.mlpBias { try host.declareParameter(p + "mlp.\(name).bias", [i]) }
            }
            try host.declareParameter(p + "mlp.down_proj.weight", [h, i], parallel: DPH_PARALLEL_ROW)
            if c.mlpBias { try host.declareParameter(p + "mlp.down_proj.bias", [h]) }
        }
        try host.declareParameter("model.norm.weight", [h])
        if !c.tiedHead { try host.declareParameter("lm_head.weight", [c.vocab, h]) }
    }

    /// Token embeddings only: the positions are rotary, in each block.
    func embeddings(_ host: Host, ids: dph_tensor, positions: dph_tensor) throws -> dph_tensor {
        try host.embedding(ids, host.parameter("model.embed_tokens.weight"))
    }

    func logits(_ host: Host, _ hidden: dph_tensor) throws -> dph_tensor {
        let p = { (name: String) in try host.parameter(name) }
        let x = try host.rmsNorm(hidden, weight: p("model.norm.weight"), eps: eps)
        return try host.lmHead(x, p(tiedHead ? "model.embed_tokens.weight" : "lm_head.weight"))
    }

    /// Block `model.layers.{layer}`: inputs are the hidden state [B, T, H], the attention mask and
    /// the positions.
    func block(_ host: Host, _ inputs: [dph_tensor], layer: Int32, keysOnly: Bool) throws -> dph_tensor {
        let (x, mask, positions) = (inputs[0], inputs[1], inputs[2])
        let c = self
        let dims = try host.shape(x)
        let (b, t, hd) = (dims[0], dims[1], c.headDim)
        // Linear rope scaling: angles use pos / factor, the same as scaling every frequency.
        let inv = c.positionDivisor == 1 ? c.inverseFrequencies : c.inverseFrequencies.map { $0 / c.positionDivisor }
        let n = "model.layers.\(layer)."
        let p = { (name: String) in try host.parameter(n + name) }
        let bias = { (name: String, on: Bool) in on ? try host.parameter(n + name) : 0 }
        let normed = try host.rmsNorm(x, weight: p("input_layernorm.weight"), eps: c.eps)
        let proj = { (name: String, heads: Int) in
            try host.reshape(host.linear(normed, p("self_attn.\(name).weight"), bias: bias("self_attn.\(name).bias", c.attentionBias)),
                             [b, t, heads, hd])
        }
        let k = try host.rotary(proj("k_proj", c.kvHeads), positions: positions, rotaryDims: hd, inverseFrequencies: inv)
        let kv = try host.kvCacheAppend(layer: Int(layer), key: k, value: proj("v_proj", c.kvHeads))
        if keysOnly { return x }
        let q = try host.rotary(proj("q_proj", c.heads), positions: positions, rotaryDims: hd, inverseFrequencies: inv)
        let attended = try host.reshape(host.attention(query: q, key: kv.key, value: kv.value, keyMask: mask),
                                        [b, t, c.heads * hd])
        let h = try host.add(x, host.linear(attended, p("self_attn.o_proj.weight"), bias: bias("self_attn.o_proj.bias", c.attentionBias)))
        let m = try host.rmsNorm(h, weight: p("post_attention_layernorm.weight"), eps: c.eps)
        let gate = try host.silu(host.linear(m, p("mlp.gate_proj.weight"), bias: bias("mlp.gate_proj.bias", c.mlpBias)))
        let up = try host.linear(m, p("mlp.up_proj.weight"), bias: bias("mlp.up_proj.bias", c.mlpBias))
        return try host.add(h, host.linear(host.mul(gate, up), p("mlp.down_proj.weight"), bias: bias("mlp.down_proj.bias", c.mlpBias)))
    }
}

/// The `llama` plugin's descriptor.
enum LlamaModel: RegisteredModel {
    static let plugin = ModelDescription(
        name: "llama",
        summary: "Llama (RMSNorm, SwiGLU, rotary with rope_theta, grouped-query attention)",
        blockName: "model.layers.{i}", modelTypes: ["llama"], blockClasses: ["LlamaDecoderLayer"],
        attendsThroughHost: true,
        configure: { ModelEntry.configure($0, $1, $2, as: LlamaConfig.self) },
        forward: { ModelEntry.forward($0, $1, $2, $3, $4, as: LlamaConfig.self) })
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { ModelExport.abiVersion }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    ModelExport.initialize(desc, as: LlamaModel.self)
}
