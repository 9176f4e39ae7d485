import CDPOHostSDK

/// What a model plugin publishes in its descriptor: name, version, summary (`plugins info`),
/// options, and its vtable's fields (plugin.h, `dph_model_vtable`): the repeated block's name
/// with "{i}", the Hugging Face `model_type`s it runs, the block's transformers classes, the
/// config.json key that limits positions (nil for rotary models), whether its positions meet only
/// in the host's attention (`attends_through_host`) and its two callbacks.
public struct ModelDescription: Sendable {
    public let name, version, summary: String
    public let options: [PluginDescription.Option]
    public let blockName: String
    public let modelTypes, blockClasses: [String]
    public let positionLimitKey: String?
    /// plugin.h's `attends_through_host`: positions meet only in `host.attention`, over the keys
    /// `kvCacheAppend` returned, and the logits are `lmHead`'s output (the host may then pack a
    /// shared prompt and its rows into one sequence). `ModelEntry.forward` with a
    /// `TransformerConfig` whose blocks do so qualifies.
    public let attendsThroughHost: Bool
    public let configure: dph_model_configure_fn
    public let forward: dph_model_forward_fn

    public init(name: String, version: String = "1.0.0", summary: String, options: [PluginDescription.Option] = [],
                blockName: String, modelTypes: [String], blockClasses: [String] = [], positionLimitKey: String? = nil,
                attendsThroughHost: Bool = false, configure: dph_model_configure_fn, forward: dph_model_forward_fn) {
        (self.name, self.version, self.summary, self.options) = (name, version, summary, options)
        (self.blockName, self.modelTypes, self.blockClasses, self.positionLimitKey) = (blockName, modelTypes, blockClasses, positionLimitKey)
        self.attendsThroughHost = attendsThroughHost
        (self.configure, self.forward) = (configure, forward)
    }
}

/// A model type that carries its own description: `ModelExport.initialize(desc, as: T.self)`
/// registers it.
public protocol RegisteredModel {
    static var plugin: ModelDescription { get }
}

/// The bodies of a Swift model plugin's two exports, one call each, as a loss plugin's:
///
///     @_cdecl("dph_plugin_abi_version")
///     public func dphPluginABIVersion() -> UInt32 { ModelExport.abiVersion }
///
///     @_cdecl("dph_plugin_init")
///     public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
///         ModelExport.initialize(desc, as: MyModel.self)
///     }
///
/// The callbacks are the description's own C functions, so this keeps no state.
public enum ModelExport {
    public static var abiVersion: UInt32 { UInt32(DPH_ABI_VERSION) }

    /// Fills the descriptor for `type`: its description, a `ParsedConfig` as each instance's
    /// state (`PluginDescription.setParsedConfigState`) and its model vtable.
    public static func initialize<M: RegisteredModel>(_ desc: DPHPluginDesc?, as type: M.Type) -> dph_status {
        let plugin = M.plugin
        PluginDescription.fill(desc, kind: DPH_KIND_MODEL, name: plugin.name, version: plugin.version,
                               summary: plugin.summary, options: plugin.options)
        PluginDescription.setParsedConfigState(desc)
        desc?.pointee.model = PluginDescription.modelVTable(
            blockName: plugin.blockName, modelTypes: plugin.modelTypes, blockClasses: plugin.blockClasses,
            positionLimitKey: plugin.positionLimitKey, attendsThroughHost: plugin.attendsThroughHost,
            configure: plugin.configure, forward: plugin.forward)
        return Int32(DPH_OK)
    }
}
