import Autograd

/// What a model plugin's instance holds besides its options and private state: its config.json,
/// the parameters it declared and the host bound, and the forward call in progress. Only model
/// instances have one; the host functions that use it refuse other plugins
/// (`HostAPI.modelInstance`).
final class ModelInstanceState {
    var config: ConfigJSON?
    var declared: [ParameterSpec] = [] {
        didSet { if declared.isEmpty { declaredBytes = 0; declaredNames = [] } }
    }
    /// The float32 bytes of `declared`, kept as they are declared (`ParameterBudget`).
    var declaredBytes = 0.0
    /// The names in `declared`, so that refusing a second declaration costs no scan of them all.
    var declaredNames: Set<String> = []
    var parameters: [String: Variable] = [:]
    /// Whether `run_block` checkpoints blocks on recording forwards (set by the trainer).
    var activationCheckpointing = false
    /// The forward call in progress (nil between calls): what `kv_cache_append` and `lm_head` do.
    var forwardPass: ForwardPass?
    /// Generation's keys and values, kept across forward calls until `resetCache`.
    let generationCache = KeyValueCache()
    /// Whether the plugin's forward passes its keys through `kv_cache_append` (nil: not seen
    /// yet). One that does not cannot continue from a shared prompt's keys.
    var appendsKeys: Bool?
    /// Whether a shared prompt and its rows run as one packed sequence (`PackedPrompt`); set from
    /// the vtable's `attends_through_host`.
    var packsSharedPrompt = false
    /// Handles `linear` for weights the host split across ranks (tensor parallelism).
    var linearInterceptor: LinearInterceptor?
    var parameterAccess: ParameterAccess?
}
