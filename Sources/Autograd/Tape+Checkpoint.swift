import TensorCore

/// Activation checkpointing (as `torch.utils.checkpoint`): a block's forward runs without
/// recording and the tape keeps one node holding only the block's inputs; backward runs the block
/// again on a sub-tape to recompute its activations and back-propagates through that.
extension Tape {
    /// Back-propagates `gradient` (the output's shape) from `output`, a variable recorded on this
    /// tape, accumulating into every variable that requires a gradient, then releases the
    /// recorded activations, as `backward(_:seed:)` does from a scalar loss.
    public func backward(from output: Variable, gradient: Tensor) throws {
        guard gradient.shape == output.shape else {
            throw TensorError.shapeMismatch(op: "backward", detail: "gradient \(gradient.shape) for an output of shape \(output.shape)")
        }
        guard output.requiresGrad else {
            throw TensorError.invalidArgument(op: "backward", detail: "the output does not depend on any variable that requires a gradient")
        }
        // A one-element anchor recorded after everything else hands `gradient` to `output` when
        // the ordinary backward starts from it.
        let saved = isRecording
        isRecording = true
        let anchor = result(Tensor(zeros: [1]), inputs: [output]) { [pool] _ in try output.accumulate(gradient, pool: pool) }
        isRecording = saved
        try backward(anchor)
    }

    /// The output of `block(tape, inputs)`, recorded as one checkpointed node.
    ///
    /// On a recording tape, when some input or some variable of `dependencies` (the block's
    /// parameters) requires a gradient, `block` runs on this tape without recording, so none of
    /// its activations are kept; the node keeps `inputs`. Its backward calls `block` again on a
    /// fresh recording sub-tape with leaf copies of the inputs that require a gradient,
    /// back-propagates the output's gradient through it and adds the copies' gradients to the
    /// inputs; parameters the block reads are leaves and collect their gradients directly.
    /// Otherwise `block` just runs on this tape.
    ///
    /// `block` runs twice, so it must compute the same values from the same inputs both times and
    /// everything it captures must live until this tape's backward or reset.
    public func checkpoint(_ inputs: [Variable], dependencies: [Variable] = [],
                           _ block: @escaping (Tape, [Variable]) throws -> Variable) throws -> Variable {
        guard needsGrad(inputs) || needsGrad(dependencies) else { return try block(self, inputs) }
        let value = try withoutGrad { try block(self, inputs) }.value
        let marker = dependencies.first { $0.requiresGrad }.map { [$0] } ?? []
        return result(value, inputs: inputs + marker) { [pool] dy in
            let sub = Tape(pool: pool)
            let leaves = inputs.map { $0.requiresGrad ? Variable($0.value, requiresGrad: true) : $0 }
            let output = try block(sub, leaves)
            guard output.requiresGrad else { return }
            try sub.backward(from: output, gradient: dy)
            for (input, leaf) in zip(inputs, leaves) where input.requiresGrad {
                if let g = leaf.grad { try input.accumulate(g, pool: pool) }
            }
        }
    }
}
