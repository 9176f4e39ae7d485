import CDPOHostSDK

/// A decoder-only model family as its plugin writes it: the config.json values it parses once
/// per `configure` (the instance's `ParsedConfig`) and the pieces of its forward pass that
/// differ between families. `ModelEntry` runs the rest, which they share: the callbacks'
/// checks, the positions, the loop over the blocks through `host.runBlock` and the keys-only
/// pass of a shared prompt.
public protocol TransformerConfig {
    /// Reads config.json through the host (`host.config*`) and refuses what the family does not run.
    init(_ host: Host) throws
    /// How many repeated blocks the forward pass runs.
    var layers: Int { get }
    /// Whether a block's inputs end with the positions (rotary models): [hidden, mask, positions]
    /// rather than [hidden, mask].
    static var blocksReadPositions: Bool { get }
    /// Declares every parameter (`configure`).
    func declareParameters(_ host: Host) throws
    /// The hidden state the first block reads.
    func embeddings(_ host: Host, ids: dph_tensor, positions: dph_tensor) throws -> dph_tensor
    /// Block `layer` on its inputs (see `blocksReadPositions`). With `keysOnly` (the last block of
    /// a shared prompt's pass) it stops after its `kv_cache_append` and returns its input.
    func block(_ host: Host, _ inputs: [dph_tensor], layer: Int32, keysOnly: Bool) throws -> dph_tensor
    /// The logits from the last block's output: the final norm and the head.
    func logits(_ host: Host, _ hidden: dph_tensor) throws -> dph_tensor
}

/// The bodies of a model plugin's `configure` and `forward` for a `TransformerConfig`, one call
/// each from the plugin's C callbacks (which cannot be generic):
///
///     configure: { ModelEntry.configure($0, $1, $2, as: MyConfig.self) },
///     forward: { ModelEntry.forward($0, $1, $2, $3, $4, as: MyConfig.self) }
///
/// The blocks are C functions of this layer that find the family's config through their `user`
/// (the instance state), so it keeps no state of its own.
public enum ModelEntry {
    /// Parses config.json again (it may have changed) and declares the parameters.
    public static func configure<C: TransformerConfig>(_ api: DPHHostAPI?, _ ctx: OpaquePointer?,
                                                       _ state: UnsafeMutableRawPointer?, as type: C.Type) -> dph_status {
        Host(api, ctx).run { host in
            let c = try ParsedConfig.reparse(state, family: C.self) { try C(host) }
            try c.declareParameters(host)
        }
    }

    /// Embeddings, every block through `host.runBlock` (the last only up to its keys in a keys-only
    /// pass, whose output is then the last block's input), the final norm and the head.
    public static func forward<C: TransformerConfig>(_ api: DPHHostAPI?, _ ctx: OpaquePointer?, _ state: UnsafeMutableRawPointer?,
                                                     _ args: UnsafePointer<dph_forward_args>?, _ out: UnsafeMutablePointer<dph_tensor>?,
                                                     as type: C.Type) -> dph_status {
        Host(api, ctx).run { host in
            guard let a = args?.pointee, let out else { throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "missing forward arguments") }
            let c = try ParsedConfig.of(state, family: C.self) { try C(host) }
            let t = try host.shape(a.input_ids)[1]
            let positions = a.position_ids != 0 ? a.position_ids : try host.indices((0..<t).map(Int32.init), shape: [t])
            var x = try c.embeddings(host, ids: a.input_ids, positions: positions)
            for l in 0..<c.layers {
                // A keys-only forward (a shared prompt's pass) needs the last block only up to its keys.
                let fn: dph_block_fn = a.keysOnly && l == c.layers - 1 ? keysOnlyBlock : block
                let inputs = C.blocksReadPositions ? [x, a.attention_mask, positions] : [x, a.attention_mask]
                x = try host.runBlock(layer: l, fn, user: state, inputs: inputs)
            }
            if a.keysOnly {
                out.pointee = x
                return
            }
            out.pointee = try c.logits(host, x)
        }
    }
}

/// One repeated block: `user` is the instance state, whose config runs it. The host runs it (and
/// may run it again during backward: activation checkpointing).
private func block(_ api: DPHHostAPI?, _ ctx: OpaquePointer?, _ user: UnsafeMutableRawPointer?, _ layer: Int32,
                   _ inputs: UnsafePointer<dph_tensor>?, _ count: Int32, _ out: UnsafeMutablePointer<dph_tensor>?) -> dph_status {
    Host.block(api, ctx, inputs, count, out) { host, inputs in
        try ParsedConfig.transformer(user, host).block(host, inputs, layer: layer, keysOnly: false)
    }
}

/// The last block of a keys-only forward (a shared prompt's pass): up to its `kv_cache_append`.
private func keysOnlyBlock(_ api: DPHHostAPI?, _ ctx: OpaquePointer?, _ user: UnsafeMutableRawPointer?, _ layer: Int32,
                           _ inputs: UnsafePointer<dph_tensor>?, _ count: Int32, _ out: UnsafeMutablePointer<dph_tensor>?) -> dph_status {
    Host.block(api, ctx, inputs, count, out) { host, inputs in
        try ParsedConfig.transformer(user, host).block(host, inputs, layer: layer, keysOnly: true)
    }
}

extension ParsedConfig {
    /// `of`, remembering the family so that a block can parse its config again.
    static func of<C: TransformerConfig>(_ state: UnsafeMutableRawPointer?, family: C.Type, parse: () throws -> C) throws -> C {
        try InstanceState.borrow(state, as: ParsedConfig.self).family = family
        return try of(state, parse: parse)
    }

    /// `reparse`, remembering the family.
    static func reparse<C: TransformerConfig>(_ state: UnsafeMutableRawPointer?, family: C.Type, parse: () throws -> C) throws -> C {
        try InstanceState.borrow(state, as: ParsedConfig.self).family = family
        return try reparse(state, parse: parse)
    }

    /// The config behind a block's `user`, parsed again (as `of` does) when a failed `configure`
    /// left none.
    static func transformer(_ user: UnsafeMutableRawPointer?, _ host: Host) throws -> any TransformerConfig {
        let box = try InstanceState.borrow(user, as: ParsedConfig.self)
        if let value = box.value as? any TransformerConfig { return value }
        guard let family = box.family else {
            throw DPHError(Int32(DPH_ERR_PLUGIN), "a model block ran before its forward")
        }
        let value = try family.init(host)
        box.value = value
        return value
    }
}
