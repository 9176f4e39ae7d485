import DPOHostSDK

/// Option specs several loss plugins declare, so one name always means one thing.
public enum LossOptions {
    /// `beta`; the zoo losses default to 0.1, TRL's and EasyDeL's default.
    public static func beta(default value: String? = "0.1",
                            help: String = "temperature of the implicit reward beta*log(pi/ref), > 0 (TRL/EasyDeL default 0.1)")
        -> PluginDescription.Option {
        .init("beta", DPH_OPTION_FLOAT, default: value, help: help)
    }

    /// `label_smoothing` in `[0, 0.5)`: the assumed fraction of flipped preference labels.
    public static func labelSmoothing(default value: String = "0",
                                      help: String = "assumed fraction of flipped preference labels, in [0, 0.5)")
        -> PluginDescription.Option {
        .init("label_smoothing", DPH_OPTION_FLOAT, default: value, help: help)
    }
}
