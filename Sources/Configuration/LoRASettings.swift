import Foundation

/// The `lora` settings (PEFT's LoraConfig): `r` 0 trains the whole model.
public struct LoRASettings: Sendable, Equatable {
    public var r: Int
    public var alpha: Double
    public var dropout: Double
    /// Module names as Hugging Face names them (`c_attn`, `q_proj`, ...), `["all-linear"]`, or
    /// nil for PEFT's default of the family.
    public var targetModules: [String]?
    public var useRSLoRA: Bool
    /// Parameters trained in full beside the adapters (module names, e.g. `lm_head`, `wte`).
    public var modulesToSave: [String]

    public init(r: Int = 0, alpha: Double = 8, dropout: Double = 0, targetModules: [String]? = nil, useRSLoRA: Bool = false,
                modulesToSave: [String] = []) {
        self.r = r
        self.alpha = alpha
        self.dropout = dropout
        self.targetModules = targetModules
        self.useRSLoRA = useRSLoRA
        self.modulesToSave = modulesToSave
    }

    public var enabled: Bool { r > 0 }

    /// `alpha / r`, or `alpha / sqrt(r)` with rsLoRA.
    public var scale: Float { Float(useRSLoRA ? alpha / Double(r).squareRoot() : alpha / Double(r)) }

    /// PEFT's default target modules per `model_type` (its TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).
    public static let defaultTargets: [String: [String]] = [
        "gpt2": ["c_attn"], "gpt_neox": ["query_key_value"], "llama": ["q_proj", "v_proj"], "gptj": ["q_proj", "v_proj"],
    ]
}
