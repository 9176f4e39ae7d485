import DPOHostSDK

/// The needs the built-in sequence-level losses declare (all but `tdpo`): each applies the host's
/// pair weights (WPO) in `PreferenceLoss.batchMean`.
public enum LossNeeds {
    /// Per-sequence log-probs, examples weighed by `pair_weights` when given.
    public static let sequence = UInt32(DPH_LOSS_NEEDS_SEQUENCE) | UInt32(DPH_LOSS_PAIR_WEIGHTS)
}

/// Fields of `dph_loss_inputs` appended after the first hosts (plugin.h, DPH_LOSS_INPUTS_HAVE).
public enum DPHLossInputs {
    /// Whether the host's inputs reach `field`.
    public static func has<T>(_ inputs: dph_loss_inputs, _ field: KeyPath<dph_loss_inputs, T>) -> Bool {
        guard let offset = MemoryLayout<dph_loss_inputs>.offset(of: field) else { return false }
        return Int(inputs.struct_size) >= offset + MemoryLayout<T>.size
    }
}
