import Foundation

/// The architectures and sizes of the PyTorch anchor script (`bench step --vs-torch`), so both
/// sides build the same model: its `SIZES` and `LLAMA_EXTRA` tables and the config keys it sets.
enum BenchArch: String, CaseIterable {
    case gpt2, pythia, llama
}

enum BenchSize: String, CaseIterable {
    /// `2.8b`: Pythia-2.8B's shape (dpohost only; the PyTorch script has no such size), for
    /// showing what LoRA fits in memory where full DPO does not.
    case tiny, small, base, b28 = "2.8b"

    var layers: Int { [2, 6, 12, 32][index] }
    var hidden: Int { [64, 256, 768, 2560][index] }
    var heads: Int { [4, 8, 12, 32][index] }
    var vocab: Int { [1000, 8192, 50304, 50304][index] }
    /// Llama only: SwiGLU width (8/3 hidden rounded up to 16) and key/value heads.
    var llamaIntermediate: Int { [176, 688, 2048, 6832][index] }
    var llamaKeyValueHeads: Int { [2, 4, 4, 32][index] }

    private var index: Int { Self.allCases.firstIndex(of: self)! }
}

enum BenchLoss: String, CaseIterable {
    case sft, dpo, tdpo

    /// The loss plugin and options giving the PyTorch script's step (beta 0.1; TDPO2, alpha 0.5).
    var plugin: (name: String, options: [String: String]) {
        switch self {
        case .sft: return ("sft", [:])
        case .dpo: return ("dpo", ["beta": "0.1"])
        case .tdpo: return ("tdpo", ["if_tdpo2": "true", "alpha": "0.5", "beta": "0.1"])
        }
    }

    var needsReference: Bool { self != .sft }

    /// Whether the loss needs only the reference's per-sequence log-probs, so they can be cached
    /// (`precompute_ref_log_probs`; TDPO needs the reference's full logits).
    var cachesReference: Bool { self == .dpo }
}

/// One model shape as a Hugging Face config.json, plus what the FLOP formula needs to know.
struct BenchModelShape {
    let arch: BenchArch
    let size: BenchSize
    let sequence: Int

    var name: String { "\(arch.rawValue)-\(size.rawValue)" }

    /// The same keys and values the PyTorch script passes to transformers' config classes.
    var configJSON: [String: Any] {
        let s = size
        let positions = max(2048, sequence)
        switch arch {
        case .gpt2:
            let special = min(50256, s.vocab - 1)
            return ["model_type": "gpt2", "vocab_size": s.vocab, "n_positions": max(1024, sequence), "n_embd": s.hidden,
                    "n_layer": s.layers, "n_head": s.heads, "n_inner": 4 * s.hidden, "activation_function": "gelu_new",
                    "tie_word_embeddings": true, "bos_token_id": special, "eos_token_id": special,
                    "layer_norm_epsilon": 1e-5, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0]
        case .pythia:
            return ["model_type": "gpt_neox", "vocab_size": s.vocab, "hidden_size": s.hidden,
                    "num_hidden_layers": s.layers, "num_attention_heads": s.heads, "intermediate_size": 4 * s.hidden,
                    "hidden_act": "gelu", "max_position_embeddings": positions, "use_parallel_residual": true,
                    "tie_word_embeddings": false, "rotary_pct": 0.25, "rotary_emb_base": 10000, "layer_norm_eps": 1e-5,
                    "attention_dropout": 0.0, "hidden_dropout": 0.0]
        case .llama:
            return ["model_type": "llama", "vocab_size": s.vocab, "hidden_size": s.hidden,
                    "num_hidden_layers": s.layers, "num_attention_heads": s.heads, "head_dim": s.hidden / s.heads,
                    "num_key_value_heads": s.llamaKeyValueHeads, "intermediate_size": s.llamaIntermediate,
                    "max_position_embeddings": positions, "hidden_act": "silu", "tie_word_embeddings": false,
                    "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "attention_dropout": 0.0]
        }
    }

    /// Embedding tables (token, and GPT-2's positions): no per-token matmul, so not in N.
    var embeddingNames: Set<String> {
        switch arch {
        case .gpt2: return ["transformer.wte.weight", "transformer.wpe.weight"]
        case .pythia: return ["gpt_neox.embed_in.weight"]
        case .llama: return ["model.embed_tokens.weight"]
        }
    }

    /// An untied output matrix (counted once, as vocab × hidden, whether tied or not).
    var headNames: Set<String> { ["embed_out.weight", "lm_head.weight"] }

    /// N of the PyTorch script: non-embedding parameters plus the lm-head matmul's vocab × hidden.
    func flopParameters(_ parameters: [(name: String, count: Int)]) -> Int {
        let skip = embeddingNames.union(headNames)
        return parameters.filter { !skip.contains($0.name) }.reduce(0) { $0 + $1.count } + size.vocab * size.hidden
    }
}
