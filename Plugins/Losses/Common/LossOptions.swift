import DPOHostSDK

/// Options several loss plugins declare, so one name always means one thing (and is checked one way).
public enum LossOptions {
    /// `beta`, > 0; the zoo losses default to 0.1, TRL's and EasyDeL's default.
    public static func beta(default value: String? = "0.1",
                            help: String = "temperature of the implicit reward beta*log(pi/ref), > 0 (TRL/EasyDeL default 0.1)")
        -> LossOption<Float> {
        .positive("beta", default: value, help: help)
    }

    /// `label_smoothing` in `[0, 0.5)`: the assumed fraction of flipped preference labels.
    public static func labelSmoothing(default value: String = "0",
                                      help: String = "assumed fraction of flipped preference labels, in [0, 0.5)")
        -> LossOption<Float> {
        .halfOpen("label_smoothing", 0, 0.5, default: value, help: help)
    }

    /// `average_log_prob`: divide sequence log-prob sums by their response lengths (the references sum).
    public static func averageLogProb(help: String) -> LossOption<Bool> { .flag("average_log_prob", help: help) }

    /// `length_normalized`: divide each log-ratio by its response length in the loss only.
    public static func lengthNormalized(help: String) -> LossOption<Bool> { .flag("length_normalized", help: help) }

    /// `reference_free`: leave the reference model out of the loss.
    public static func referenceFree(help: String) -> LossOption<Bool> { .flag("reference_free", help: help) }
}
