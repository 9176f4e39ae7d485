import DPOHostSDK

/// What a loss plugin publishes in its descriptor: name, version, summary (`plugins info`),
/// options and the needs of its vtable (plugin.h, `dph_loss_vtable.needs`).
public struct LossDescription: Sendable {
    public let name, version, summary: String
    public let options: [PluginDescription.Option]
    public let needs: UInt32

    public init(name: String, version: String = "1.0.0", summary: String, options: [any DeclaredOption],
                needs: UInt32 = LossNeeds.sequence) {
        (self.name, self.version, self.summary, self.options, self.needs) = (name, version, summary, options.map(\.spec), needs)
    }
}

/// A loss the host instantiates: `init` reads and checks the options of one instance (`create`),
/// `compute` (LossComputing) builds its batch loss.
public protocol LossInstance: LossComputing {
    init(_ host: Host) throws
}

/// A loss type that carries its own description: `LossExport.initialize(desc, as: T.self)`
/// registers it.
public protocol RegisteredLoss: LossInstance {
    static var plugin: LossDescription { get }
}

/// A loss whose options change what one instance reads (plugin.h, `instance_needs`): `needs`
/// gets the declared needs and returns this instance's.
public protocol VaryingNeeds: AnyObject {
    func needs(declared: UInt32) -> UInt32
}

/// The bodies of a loss plugin's two exports. `dph_plugin_abi_version` is DPHLossKit's own
/// (ABIVersionExport.swift); `dph_plugin_init` names the loss type, so every plugin writes it,
/// one call:
///
///     @_cdecl("dph_plugin_init")
///     public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
///         LossExport.initialize(desc, as: MyLoss.self)
///     }
///
/// C callbacks cannot capture the generic loss type, so `initialize` keeps the one type of this
/// library in a private global that the callbacks read (DPHLossKit is linked into each plugin,
/// so each library has its own).
public enum LossExport {
    public static var abiVersion: UInt32 { UInt32(DPH_ABI_VERSION) }

    /// Fills the descriptor for `type`: its description, `create`/`destroy`, and a vtable whose
    /// `compute` runs `type.compute` on the instance.
    public static func initialize<L: RegisteredLoss>(_ desc: DPHPluginDesc?, as type: L.Type) -> dph_status {
        register(desc, type, L.plugin, needs: nil)
    }

    /// As above, with an `instance_needs` callback.
    public static func initialize<L: RegisteredLoss & VaryingNeeds>(_ desc: DPHPluginDesc?, as type: L.Type) -> dph_status {
        register(desc, type, L.plugin) { $0.needs(declared: $1) }
    }

    /// One loss type published under several descriptions (`dpo` and `cdpo` differ only in a default).
    public static func initialize<L: LossInstance & VaryingNeeds>(_ desc: DPHPluginDesc?, as type: L.Type,
                                                                   described plugin: LossDescription) -> dph_status {
        register(desc, type, plugin) { $0.needs(declared: $1) }
    }

    private static func register<L: LossInstance>(_ desc: DPHPluginDesc?, _ type: L.Type, _ plugin: LossDescription,
                                                   needs: ((L, UInt32) -> UInt32)?) -> dph_status {
        PluginDescription.fill(desc, kind: DPH_KIND_LOSS, name: plugin.name, version: plugin.version,
                               summary: plugin.summary, options: plugin.options)
        let declared = plugin.needs
        registered = Callbacks(
            create: { api, ctx, out in LossEntry.create(api, ctx, out) { try L($0) } },
            compute: { api, ctx, state, inputs, out in LossEntry.compute(api, ctx, state, inputs, out, as: L.self) },
            instanceNeeds: needs.map { needs in
                { api, ctx, state, out in LossEntry.instanceNeeds(api, ctx, state, out, as: L.self) { needs($0, declared) } }
            })
        PluginDescription.setInstanceState(desc) { api, ctx, out in registered.create(api, ctx, out) }
        let instanceNeeds: dph_loss_vtable_instance_needs? = needs == nil ? nil : { api, ctx, state, out in
            registered.instanceNeeds?(api, ctx, state, out) ?? Callbacks.unregistered(api, ctx)
        }
        desc?.pointee.loss = PluginDescription.lossVTable(needs: declared, instanceNeeds: instanceNeeds) { api, ctx, state, inputs, out in
            registered.compute(api, ctx, state, inputs, out)
        }
        return Int32(DPH_OK)
    }
}

/// The Swift bodies of this library's C callbacks, for the one loss type `initialize` registered.
private struct Callbacks {
    let create: (DPHHostAPI?, OpaquePointer?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> dph_status
    let compute: (DPHHostAPI?, OpaquePointer?, UnsafeMutableRawPointer?, UnsafePointer<dph_loss_inputs>?,
                  UnsafeMutablePointer<dph_tensor>?) -> dph_status
    let instanceNeeds: ((DPHHostAPI?, OpaquePointer?, UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt32>?) -> dph_status)?

    /// Before `initialize` (which the host always calls first): an error, not a crash.
    static var none: Callbacks {
        Callbacks(create: { api, ctx, _ in unregistered(api, ctx) }, compute: { api, ctx, _, _, _ in unregistered(api, ctx) },
                  instanceNeeds: nil)
    }

    static func unregistered(_ api: DPHHostAPI?, _ ctx: OpaquePointer?) -> dph_status {
        Host(api, ctx).run { _ in throw DPHError(Int32(DPH_ERR_PLUGIN), "dph_plugin_init registered no loss") }
    }
}

/// Written by `dph_plugin_init` before the host calls any callback; private, so each plugin
/// library keeps its own.
nonisolated(unsafe) private var registered = Callbacks.none
