import DPOHostSDK
#if canImport(Glibc)
import Glibc
#endif

// GPT-NeoX / Pythia (transformers' GPTNeoXForCausalLM), as docs/spec/models.md §3 specifies:
// per-head fused query/key/value, partial rotary (rotate-half) on the first
// int(head_dim * rotary_pct) dims, exact-erf GELU, parallel or sequential residual, untied head.

/// The config.json values the forward pass needs; both the transformers-4 keys (`rotary_pct`,
/// `rotary_emb_base`) and the transformers-5 ones (`rope_parameters.*`) are read.
struct NeoXConfig {
    let hidden, heads, layers, intermediate, vocab: Int
    let rotaryDims: Int
    let base: Float
    let parallelResidual: Bool
    let eps: Float
    let bias: Bool
    let tiedHead: Bool
    let tanhGELU: Bool
    let inverseFrequencies: [Float]

    init(_ host: Host) throws {
        if let type = try host.configString("model_type"), type != "gpt_neox" {
            throw DPHError(Int32(DPH_ERR_UNSUPPORTED), "config.json model_type '\(type)' is not gpt_neox")
        }
        hidden = try host.requireConfigSize("hidden_size")
        heads = try host.requireConfigSize("num_attention_heads")
        layers = try host.requireConfigSize("num_hidden_layers")
        intermediate = try host.configSize("intermediate_size") ?? 4 * hidden
        vocab = try host.requireConfigSize("vocab_size")
        guard heads > 0, hidden % heads == 0 else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "hidden_size \(hidden) is not divisible by num_attention_heads \(heads)")
        }
        // Before anything is built from these sizes (the rotary table): embeddings and each
        // block's matrices (the norms and biases are a rounding error).
        try host.checkParameterCount(Double(vocab) * Double(hidden)
                                     + Double(layers) * Double(hidden) * (4 * Double(hidden) + 2 * Double(intermediate)))
        let pct = try host.configFraction("rotary_pct") ?? host.configFraction("partial_rotary_factor")
            ?? host.configFraction("rope_parameters.partial_rotary_factor") ?? 0.25
        rotaryDims = Int(Double(hidden / heads) * pct)
        base = Float(try host.configFloat("rotary_emb_base") ?? host.configFloat("rope_theta")
            ?? host.configFloat("rope_parameters.rope_theta") ?? 10000)
        if let scaling = try host.configString("rope_scaling.type") ?? host.configString("rope_scaling.rope_type") {
            throw DPHError(Int32(DPH_ERR_UNSUPPORTED), "rope_scaling '\(scaling)' is not supported for gpt_neox")
        }
        parallelResidual = try host.configBool("use_parallel_residual") ?? true
        eps = Float(try host.configFloat("layer_norm_eps") ?? 1e-5)
        bias = try host.configBool("attention_bias") ?? true
        tiedHead = try host.configBool("tie_word_embeddings") ?? false
        switch try host.configString("hidden_act") ?? "gelu" {
        case "gelu": tanhGELU = false
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": tanhGELU = true
        case let other: throw DPHError(Int32(DPH_ERR_UNSUPPORTED), "hidden_act '\(other)' is not supported for gpt_neox")
        }
        let (dims, theta) = (rotaryDims, base)
        inverseFrequencies = (0..<(dims / 2)).map { i in 1 / pow(theta, Float(2 * i) / Float(dims)) }
    }

    var headDim: Int { hidden / heads }
}

extension NeoXConfig: TransformerConfig {
    static let blocksReadPositions = true

    func declareParameters(_ host: Host) throws {
        let c = self
        let (h, i) = (c.hidden, c.intermediate)
        try host.declareParameter("gpt_neox.embed_in.weight", [c.vocab, h])
        for l in 0..<c.layers {
            let p = "gpt_neox.layers.\(l)."
            for norm in ["input_layernorm", "post_attention_layernorm"] {
                try host.declareParameter(p + norm + ".weight", [h])
                try host.declareParameter(p + norm + ".bias", [h])
            }
            try host.declareParameter(p + "attention.query_key_value.weight", [3 * h, h], parallel: DPH_PARALLEL_COLUMN)
            if c.bias { try host.declareParameter(p + "attention.query_key_value.bias", [3 * h]) }
            try host.declareParameter(p + "attention.dense.weight", [h, h], parallel: DPH_PARALLEL_ROW)
            if c.bias { try host.declareParameter(p + "attention.dense.bias", [h]) }
            try host.declareParameter(p + "mlp.dense_h_to_4h.weight", [i, h], parallel: DPH_PARALLEL_COLUMN)
            try host.declareParameter(p + "mlp.dense_h_to_4h.bias", [i])
            try host.declareParameter(p + "mlp.dense_4h_to_h.weight", [h, i], parallel: DPH_PARALLEL_ROW)
            try host.declareParameter(p + "mlp.dense_4h_to_h.bias", [h])
        }
        try host.declareParameter("gpt_neox.final_layer_norm.weight", [h])
        try host.declareParameter("gpt_neox.final_layer_norm.bias", [h])
        if !c.tiedHead {
            try host.declareParameter("embed_out.weight", [c.vocab, h])
            // transformers 5 names GPT-NeoX's head lm_head (its pytorch_model.bin files do).
            try host.declareParameterAlias("embed_out.weight", "lm_head.weight")
        }
    }

    /// Token embeddings only: the positions are rotary, in each block.
    func embeddings(_ host: Host, ids: dph_tensor, positions: dph_tensor) throws -> dph_tensor {
        try host.embedding(ids, host.parameter("gpt_neox.embed_in.weight"))
    }

    func logits(_ host: Host, _ hidden: dph_tensor) throws -> dph_tensor {
        let p = { (name: String) in try host.parameter(name) }
        let x = try host.layerNorm(hidden, weight: p("gpt_neox.final_layer_norm.weight"), bias: p("gpt_neox.final_layer_norm.bias"),
                                   eps: eps)
        return try host.lmHead(x, p(tiedHead ? "gpt_neox.embed_in.weight" : "embed_out.weight"))
    }

    /// Block `gpt_neox.layers.{layer}`: inputs are the hidden state [B, T, H], the attention mask
    /// and the positions.
    func block(_ host: Host, _ inputs: [dph_tensor], layer: Int32, keysOnly: Bool) throws -> dph_tensor {
        let (x, mask, positions) = (inputs[0], inputs[1], inputs[2])
        let c = self
        let dims = try host.shape(x)
        let (b, t, hd) = (dims[0], dims[1], c.headDim)
        let inv = c.inverseFrequencies
        let n = "gpt_neox.layers.\(layer)."
        let p = { (name: String) in try host.parameter(n + name) }
        let optionalBias = { (name: String) in c.bias ? try host.parameter(n + name) : 0 }
        let normed = try host.layerNorm(x, weight: p("input_layernorm.weight"), bias: p("input_layernorm.bias"), eps: c.eps)
        let qkv = try host.reshape(host.linear(normed, p("attention.query_key_value.weight"),
                                               bias: optionalBias("attention.query_key_value.bias")), [b, t, c.heads, 3 * hd])
        // Per-head interleaving: for head h the outputs are (q_h, k_h, v_h) blocks of head_dim.
        let qkvParts = try host.split(qkv, sizes: [hd, hd, hd], axis: 3)
        let k = try host.rotary(qkvParts[1], positions: positions, rotaryDims: c.rotaryDims, inverseFrequencies: inv)
        let kv = try host.kvCacheAppend(layer: Int(layer), key: k, value: qkvParts[2])
        if keysOnly { return x }
        let q = try host.rotary(qkvParts[0], positions: positions, rotaryDims: c.rotaryDims, inverseFrequencies: inv)
        let attended = try host.reshape(host.attention(query: q, key: kv.key, value: kv.value, keyMask: mask), [b, t, c.hidden])
        let attnOut = try host.linear(attended, p("attention.dense.weight"), bias: optionalBias("attention.dense.bias"))
        // Parallel residual: attention and MLP both read the block input, through two norms.
        let mlpIn = c.parallelResidual ? x : try host.add(x, attnOut)
        let m = try host.layerNorm(mlpIn, weight: p("post_attention_layernorm.weight"),
                                   bias: p("post_attention_layernorm.bias"), eps: c.eps)
        let up = try host.gelu(host.linear(m, p("mlp.dense_h_to_4h.weight"), bias: p("mlp.dense_h_to_4h.bias")),
                               tanhApproximation: c.tanhGELU)
        let mlpOut = try host.linear(up, p("mlp.dense_4h_to_h.weight"), bias: p("mlp.dense_4h_to_h.bias"))
        return c.parallelResidual ? try host.add(host.add(x, attnOut), mlpOut) : try host.add(mlpIn, mlpOut)
    }
}

/// The `pythia` plugin's descriptor.
enum PythiaModel: RegisteredModel {
    static let plugin = ModelDescription(
        name: "pythia",
        summary: "GPT-NeoX / Pythia (parallel or sequential residual, partial rotary)",
        blockName: "gpt_neox.layers.{i}", modelTypes: ["gpt_neox"], blockClasses: ["GPTNeoXLayer"],
        attendsThroughHost: true,
        configure: { ModelEntry.configure($0, $1, $2, as: NeoXConfig.self) },
        forward: { ModelEntry.forward($0, $1, $2, $3, $4, as: NeoXConfig.self) })
}

@_cdecl("dph_plugin_abi_version")
public func dphPluginABIVersion() -> UInt32 { ModelExport.abiVersion }

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    ModelExport.initialize(desc, as: PythiaModel.self)
}
