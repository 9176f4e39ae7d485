import DPOHostSDK

/// What a dataset plugin publishes in its descriptor: name, version, summary (`plugins info`),
/// options and how the host truncates its prompts (plugin.h, `dph_dataset_vtable.truncation_mode`).
/// A published dataset's `data_dir` comes first among its options.
public struct DatasetDescription: Sendable {
    public let name, version, summary: String
    public let dataDirectory: DataDirectory?
    public let options: [PluginDescription.Option]
    public let truncationMode: dph_truncation_mode

    public init(name: String, version: String = "1.0.0", summary: String, dataDirectory: DataDirectory? = nil,
                options: [PluginDescription.Option], truncationMode: dph_truncation_mode = DPH_KEEP_START) {
        (self.name, self.version, self.summary, self.dataDirectory, self.truncationMode) =
            (name, version, summary, dataDirectory, truncationMode)
        self.options = (dataDirectory.map { [$0.option] } ?? []) + options
    }
}

/// A dataset type that carries its own description: `DatasetExport.initialize(desc, as: T.self)`
/// registers it, and the host's `load` runs `T.load` for one split.
public protocol RegisteredDataset {
    static var plugin: DatasetDescription { get }
    /// Reads the split's files and hands every record to the host (`host.emitRecord`).
    static func load(host: Host, split: String) throws
}

extension RegisteredDataset {
    /// The files of `split` in the folder of the `data_dir` the plugin's description declares.
    public static func dataFiles(host: Host, split: String) throws -> [String] {
        guard let layout = plugin.dataDirectory else {
            throw DPHError(Int32(DPH_ERR_PLUGIN), "\(plugin.name) declares no \(DataDirectory.optionName) option")
        }
        return try layout.files(host: host, split: split, plugin: plugin.name)
    }
}

/// The bodies of a dataset plugin's two exports, one call each, as a loss plugin's:
///
///     @_cdecl("dph_plugin_abi_version")
///     public func dphPluginABIVersion() -> UInt32 { DatasetExport.abiVersion }
///
///     @_cdecl("dph_plugin_init")
///     public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
///         DatasetExport.initialize(desc, as: MyDataset.self)
///     }
///
/// The C `load` callback cannot capture the generic type, so `initialize` keeps this library's
/// one dataset type in a private global that the callback reads (DatasetSupport is linked into
/// each plugin, so each library has its own).
public enum DatasetExport {
    public static var abiVersion: UInt32 { UInt32(DPH_ABI_VERSION) }

    /// Fills the descriptor for `type`: its description, and a vtable whose `load` runs
    /// `type.load` with the split's name.
    public static func initialize<D: RegisteredDataset>(_ desc: DPHPluginDesc?, as type: D.Type) -> dph_status {
        let plugin = D.plugin
        PluginDescription.fill(desc, kind: DPH_KIND_DATASET, name: plugin.name, version: plugin.version,
                               summary: plugin.summary, options: plugin.options)
        registeredLoad = { host, split in try D.load(host: host, split: split) }
        desc?.pointee.dataset = PluginDescription.datasetVTable(truncationMode: plugin.truncationMode) { api, ctx, _, split in
            Host(api, ctx).run { host in try registeredLoad(host, String(cString: split!)) }
        }
        return Int32(DPH_OK)
    }
}

/// Written by `dph_plugin_init` before the host calls `load`; private, so each plugin library
/// keeps its own. Before `initialize` (which the host always calls first): an error, not a crash.
nonisolated(unsafe) private var registeredLoad: (Host, String) throws -> Void = { _, _ in
    throw DPHError(Int32(DPH_ERR_PLUGIN), "dph_plugin_init registered no dataset")
}
