import CDPOHostSDK

/// The type of a plugin option, as declared in its descriptor.
public enum OptionType: String, Sendable {
    case int, float, bool, string, list

    init?(abi raw: UInt32) {
        switch raw {
        case UInt32(DPH_OPTION_INT.rawValue): self = .int
        case UInt32(DPH_OPTION_FLOAT.rawValue): self = .float
        case UInt32(DPH_OPTION_BOOL.rawValue): self = .bool
        case UInt32(DPH_OPTION_STRING.rawValue): self = .string
        case UInt32(DPH_OPTION_LIST.rawValue): self = .list
        default: return nil
        }
    }
}

/// One option a plugin accepts. `defaultValue == nil` means the option is required.
public struct OptionSpec: Equatable, Sendable {
    public let name: String
    public let type: OptionType
    public let defaultValue: String?
    public let help: String
}

/// A validated copy of what the plugin wrote into its `dph_plugin_desc`.
public struct PluginDescriptor: @unchecked Sendable {
    public let name: String
    public let kind: PluginKind
    public let version: String
    public let summary: String
    public let abiVersion: UInt32
    public let options: [OptionSpec]
    /// The raw descriptor: its function and vtable pointers stay valid while the library is
    /// loaded, which is forever (RTLD_NODELETE).
    let raw: dph_plugin_desc

    /// The loss vtable as the host's struct: a plugin built before `instance_needs` was appended
    /// wrote a shorter one, whose missing fields read as NULL.
    var lossVTable: dph_loss_vtable? { Self.vtable(raw.loss, empty: dph_loss_vtable()) }
    /// The model vtable likewise (`block_classes`, `position_limit_key` and `attends_through_host`
    /// were appended).
    var modelVTable: dph_model_vtable? { Self.vtable(raw.model, empty: dph_model_vtable()) }

    /// A plugin's vtable copied into the host's struct: only the `struct_size` bytes the plugin
    /// wrote are read (every vtable starts with its `struct_size`), the rest stay as in `empty`.
    static func vtable<VTable>(_ p: UnsafePointer<VTable>?, empty: VTable) -> VTable? {
        guard let p else { return nil }
        var v = empty
        let bytes = min(Int(UnsafeRawPointer(p).load(as: UInt32.self)), MemoryLayout<VTable>.size)
        withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: UnsafeRawBufferPointer(start: UnsafeRawPointer(p), count: bytes)) }
        return v
    }
}

/// Checks a descriptor field by field before the host trusts any pointer in it.
enum DescriptorValidator {
    static func validate(_ d: dph_plugin_desc, path: String, fileABI: UInt32) throws -> PluginDescriptor {
        func bad(_ detail: String) -> PluginError { .badDescriptor(path: path, detail: detail) }
        let expectedSize = UInt32(MemoryLayout<dph_plugin_desc>.size)
        guard d.struct_size == expectedSize else {
            throw bad("struct_size is \(d.struct_size), expected \(expectedSize) for ABI \(fileABI)")
        }
        guard d.abi_version == fileABI else {
            throw bad("abi_version \(d.abi_version) differs from dph_plugin_abi_version() = \(fileABI)")
        }
        guard let kind = PluginKind(abi: d.kind.rawValue) else {
            throw bad("unknown kind \(d.kind.rawValue) (expected model=1, dataset=2 or loss=3)")
        }
        guard let cname = d.name else { throw bad("name is NULL") }
        let name = String(cString: cname)
        guard isIdentifier(name, extra: "-.") else {
            throw bad("name '\(name)' must be non-empty and use only a-z, 0-9, '_', '-' and '.'")
        }
        guard let cversion = d.version else { throw bad("version is NULL") }
        let options = try validateOptions(d, plugin: name, bad: bad)
        try validateVTable(d, kind: kind, bad: bad)
        return PluginDescriptor(name: name, kind: kind, version: String(cString: cversion),
                                summary: d.description.map { String(cString: $0) } ?? "",
                                abiVersion: d.abi_version, options: options, raw: d)
    }

    private static func validateOptions(_ d: dph_plugin_desc, plugin: String,
                                        bad: (String) -> PluginError) throws -> [OptionSpec] {
        guard d.n_options >= 0 else { throw bad("n_options is negative (\(d.n_options))") }
        if d.n_options == 0 { return [] }
        guard let specs = d.options else { throw bad("n_options is \(d.n_options) but options is NULL") }
        var result: [OptionSpec] = []
        for i in 0..<Int(d.n_options) {
            let s = specs[i]
            let specSize = UInt32(MemoryLayout<dph_option_spec>.size)
            guard s.struct_size == specSize else {
                throw bad("option #\(i) has struct_size \(s.struct_size), expected \(specSize)")
            }
            guard let cname = s.name else { throw bad("option #\(i) has a NULL name") }
            let name = String(cString: cname)
            guard isIdentifier(name, extra: "") else {
                throw bad("option name '\(name)' must use only a-z, 0-9 and '_'")
            }
            guard !result.contains(where: { $0.name == name }) else { throw bad("option '\(name)' is declared twice") }
            guard let type = OptionType(abi: s.type.rawValue) else {
                throw bad("option '\(name)' has unknown type \(s.type.rawValue)")
            }
            let spec = OptionSpec(name: name, type: type, defaultValue: s.default_value.map { String(cString: $0) },
                                  help: s.help.map { String(cString: $0) } ?? "")
            if let def = spec.defaultValue, OptionValue.parse(def, as: type) == nil {
                throw bad("default '\(def)' of option '\(name)' is not a valid \(type.rawValue)")
            }
            result.append(spec)
        }
        return result
    }

    private static func validateVTable(_ d: dph_plugin_desc, kind: PluginKind, bad: (String) -> PluginError) throws {
        let present: [PluginKind: Bool] = [.model: d.model != nil, .dataset: d.dataset != nil, .loss: d.loss != nil]
        for (k, isSet) in present where k != kind && isSet {
            throw bad("a \(kind) plugin must not set the \(k) vtable")
        }
        switch kind {
        case .model:
            guard let v = PluginDescriptor.vtable(d.model, empty: dph_model_vtable()) else { throw bad("a model plugin must set the model vtable") }
            // block_classes, position_limit_key and attends_through_host were appended: a vtable
            // that ends before one is an older plugin's (plugin.h), read without them.
            try checkSize(v.struct_size, appended: [\dph_model_vtable.block_classes, \dph_model_vtable.position_limit_key,
                                                    \dph_model_vtable.attends_through_host], "model", bad)
            guard v.configure != nil, v.forward != nil else { throw bad("model vtable needs configure and forward") }
            guard v.block_name != nil else {
                throw bad("model vtable needs block_name")
            }
        case .dataset:
            guard let v = PluginDescriptor.vtable(d.dataset, empty: dph_dataset_vtable()) else { throw bad("a dataset plugin must set the dataset vtable") }
            try checkSize(v.struct_size, appended: [PartialKeyPath<dph_dataset_vtable>](), "dataset", bad)
            guard v.load != nil else { throw bad("dataset vtable needs load") }
            guard v.truncation_mode == DPH_KEEP_START || v.truncation_mode == DPH_KEEP_END else {
                throw bad("dataset truncation_mode \(v.truncation_mode.rawValue) is neither keep_start nor keep_end")
            }
        case .loss:
            guard let v = PluginDescriptor.vtable(d.loss, empty: dph_loss_vtable()) else { throw bad("a loss plugin must set the loss vtable") }
            // The size before `instance_needs` was appended is the older plugins' (plugin.h).
            try checkSize(v.struct_size, appended: [\dph_loss_vtable.instance_needs], "loss", bad)
            guard v.compute != nil else { throw bad("loss vtable needs compute") }
            if let problem = LossPlugin.Needs.problem(v.needs) { throw bad(problem) }
        }
    }

    /// A vtable's `struct_size` must be the host's, or end right before one of the fields
    /// `appended` after the first plugins (plugin.h: a reader never touches bytes beyond it).
    private static func checkSize<VTable>(_ got: UInt32, appended: [PartialKeyPath<VTable>], _ what: String,
                                          _ bad: (String) -> PluginError) throws {
        let expected = MemoryLayout<VTable>.size
        let older = appended.map { MemoryLayout<VTable>.offset(of: $0)! }
        guard got == UInt32(expected) || older.contains(Int(got)) else {
            throw bad("\(what) vtable struct_size is \(got), expected \(expected)")
        }
    }

    private static func isIdentifier(_ s: String, extra: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || extra.unicodeScalars.contains($0)
        }
    }
}
