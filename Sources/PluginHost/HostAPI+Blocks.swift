import Autograd
import CDPOHostSDK
import Foundation
import TensorCore

/// `run_block`: a model's repeated block, run directly or with activation checkpointing.
extension HostAPI {
    static func installBlocks(_ api: inout dph_host_api) {
        api.run_block = { p, layer, fn, user, inputs, n, out in CallContext.run(p) { ctx in
            let (instance, model) = try HostAPI.modelInstance(ctx, "run_block")
            guard let fn else { throw HostCallError.invalid("run_block: fn is NULL") }
            guard n >= 0, n == 0 || inputs != nil else { throw HostCallError.invalid("run_block: inputs is NULL for \(n) handles") }
            let o = try requireOut(out)
            let tape = ctx.arena.tape
            guard model.activationCheckpointing, tape.isRecording, model.forwardPass?.passesKeysThrough ?? true else {
                // Nothing to save: the block is the plugin's own code, called in this context.
                let status = fn(HostAPI.table, p, user, layer, inputs, n, o)
                guard status == Int32(DPH_OK) else {
                    throw HostCallError(status: status, message: ctx.lastErrorPointer.map { String(cString: $0) }
                                        ?? "block \(layer) returned status \(status)")
                }
                return
            }
            // To a ParameterAccess (FSDP) a checkpointed block is a forward of its own (see
            // CheckpointedBlock.run): what the forward gathered before it ends here, on the
            // recording tape, so that backward gathers it again after recomputing this block.
            try model.parameterAccess?.forwardEnded(tape: tape)
            let block = CheckpointedBlock(instance: instance, model: model, fn: fn, user: user, layer: layer,
                                          slots: try (0..<Int(n)).map { try ctx.arena.slot(inputs![$0]) })
            do {
                let output = try tape.checkpoint(block.floatInputs, dependencies: block.trainableParameters) { t, floats in
                    try block.run(on: t, floats: floats)
                }
                o.pointee = ctx.arena.add(output)
            } catch let PluginError.pluginFailed(_, _, status, message) {
                throw HostCallError(status: status, message: message)
            }
        } }
    }
}

/// One call of `run_block` under activation checkpointing: what the block needs to run again
/// during backward (the plugin's function and `user`, the int32 inputs as constants), and each
/// run in a context of its own, whose arena (the block's intermediate handles) goes with it.
private struct CheckpointedBlock {
    let instance: PluginInstance
    let model: ModelInstanceState
    let fn: dph_block_fn
    let user: UnsafeMutableRawPointer?
    let layer: Int32
    let slots: [TensorArena.Slot]

    /// The float inputs, in order: what the checkpoint keeps and differentiates.
    var floatInputs: [Variable] {
        slots.compactMap { if case let .float(v) = $0 { return v } else { return nil } }
    }

    /// Whether the block's parameters may need gradients even when its inputs do not (the
    /// host cannot see which parameters `fn` will fetch without running it).
    var trainableParameters: [Variable] {
        model.parameters.values.first { $0.requiresGrad }.map { [$0] } ?? []
    }

    /// Runs the block on `tape` with `floats` in place of the float inputs: without recording
    /// during the forward, on a recording sub-tape when backward recomputes it.
    ///
    /// Each run is a forward of its own to a ParameterAccess (FSDP gathers the block's
    /// parameters on their first fetch): the no-grad run ends as soon as it returned (its
    /// parameters are freed, nothing recorded); the recomputation ends after the sub-tape's
    /// backward (a hook recorded first runs last, after the block's gradients were reduced), so
    /// the parameters stay whole for the block's backward and nothing is gathered again later.
    func run(on tape: Tape, floats: [Variable]) throws -> Variable {
        let access = model.parameterAccess
        if let access, tape.isRecording {
            tape.recordHook { [weak tape] in
                guard let tape else { return }
                try tape.withoutGrad { try access.forwardEnded(tape: tape) }
            }
        }
        let ctx = CallContext(pluginName: instance.plugin.name, instance: instance, arena: TensorArena(tape: tape))
        var next = floats.makeIterator()
        let handles = slots.map { slot -> dph_tensor in
            switch slot {
            case .float: return ctx.arena.add(next.next()!)
            case let .index(t): return ctx.arena.add(t)
            }
        }
        // Checkpointing never runs with the key/value cache (a generation forward calls fn directly).
        let pass = model.forwardPass
        model.forwardPass = ForwardPass(keys: .passThrough, logitRows: pass?.logitRows)
        defer { model.forwardPass = pass }
        var out: dph_tensor = 0
        let status = ctx.withPointer { p in
            handles.withUnsafeBufferPointer { fn(HostAPI.table, p, user, layer, $0.baseAddress, Int32($0.count), &out) }
        }
        guard status == Int32(DPH_OK) else { throw ctx.failure(call: "run_block (block \(layer))", status: status) }
        if !tape.isRecording { try access?.forwardEnded(tape: tape) }
        do {
            return try ctx.arena.float(out, "the output of block \(layer)")
        } catch let e as HostCallError {
            throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "run_block (block \(layer))", status: e.status, message: e.message)
        }
    }
}
