import CDPOHostSDK

/// The three things a plugin can provide.
public enum PluginKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case model, dataset, loss

    init?(abi raw: UInt32) {
        switch raw {
        case UInt32(DPH_KIND_MODEL.rawValue): self = .model
        case UInt32(DPH_KIND_DATASET.rawValue): self = .dataset
        case UInt32(DPH_KIND_LOSS.rawValue): self = .loss
        default: return nil
        }
    }

    public var description: String { rawValue }
}

/// ABI versions this host can load. The lower bound rises only when an old layout is dropped.
public enum PluginABI {
    public static let current = UInt32(DPH_ABI_VERSION)
    public static let supported: ClosedRange<UInt32> = 1...current
    static let entryPoint = "dph_plugin_init"
    static let versionSymbol = "dph_plugin_abi_version"
}
