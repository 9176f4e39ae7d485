import TensorCore

/// A value in the computation graph: a tensor, and the gradient of the loss with respect to it.
///
/// Parameters are leaf variables with `requiresGrad`; their gradients accumulate across
/// `backward` calls (gradient accumulation) until `zeroGrad()`. Variables made by ops are
/// intermediate: their gradients are released as soon as backward has passed them.
public final class Variable {
    public let value: Tensor
    public internal(set) var grad: Tensor?
    public let requiresGrad: Bool
    public let isLeaf: Bool

    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.isLeaf = true
    }

    init(result value: Tensor, requiresGrad: Bool) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.isLeaf = false
    }

    public var shape: [Int] { value.shape }

    public func zeroGrad() { grad?.fill(0) }

    /// The gradient buffer, allocated (zero) on first use, for kernels that accumulate in place.
    func gradBuffer() -> Tensor {
        if let grad { return grad }
        let g = Tensor(zeros: value.shape)
        grad = g
        return g
    }

    /// The gradient buffer for a kernel that can either add into it or overwrite it entirely:
    /// on first use a new, uninitialised buffer and `fresh` true, and the caller must then write
    /// every element (an sgemm with beta 0 instead of 1: OpenBLAS zeroes C itself for beta 0 and
    /// adds the product into it, so the bits are those of beta 1 into a zero-filled buffer, but
    /// the zeroing happens in the product's parallel blocks instead of a serial memset).
    func gradBufferForWriting() -> (buffer: Tensor, fresh: Bool) {
        if let grad { return (grad, false) }
        let g = Tensor(uninitialized: value.shape)
        grad = g
        return (g, true)
    }

    /// Replaces the gradient (used by optimizers' clipping and by sharded trainers).
    public func setGrad(_ g: Tensor?) { grad = g }
}

/// Records differentiable ops in execution order and replays their backward in reverse.
///
/// One tape per forward pass: the policy runs on a recording tape; the frozen reference model runs
/// on a tape with `recording: false` (no-grad mode), which records nothing and keeps no
/// activations. The tape also carries the worker pool that its kernels use.
public final class Tape {
    struct Node {
        /// nil for a hook, which runs whether or not a gradient reached it.
        let output: Variable?
        /// The op's name, for `profile`.
        let op: String
        /// Receives the output's own gradient buffer (never shared: gradients are accumulated
        /// into fresh buffers), which the tape drops right after; a backward may use it as scratch.
        let backward: (Tensor?) throws -> Void
    }

    public let pool: WorkerPool
    public var isRecording: Bool
    /// Times every op's forward and backward when set (nil: nothing is timed).
    public var profile: OpProfile?
    private var nodes: [Node] = []

    public init(pool: WorkerPool = WorkerPool(), recording: Bool = true) {
        self.pool = pool
        self.isRecording = recording
    }

    /// Number of recorded ops (each holds its saved activations until backward or `reset`).
    public var recordedOps: Int { nodes.count }

    /// Whether an op over `inputs` must be recorded.
    func needsGrad(_ inputs: [Variable]) -> Bool {
        isRecording && inputs.contains { $0.requiresGrad }
    }

    /// Creates the output variable and records `backward(dOutput)` when any input needs a gradient.
    /// `op` names the op for `profile` (evaluated only when profiling).
    func result(_ value: Tensor, inputs: [Variable], op: @autoclosure () -> String = #function,
                backward: @escaping (Tensor) throws -> Void) -> Variable {
        let needs = needsGrad(inputs)
        let out = Variable(result: value, requiresGrad: needs)
        let name = profile == nil ? "" : OpProfile.name(op())
        if needs { nodes.append(Node(output: out, op: name, backward: { try backward($0!) })) }
        profile?.forwardEnded(name)
        return out
    }

    /// Records `body` to run when backward reaches this point of the tape (after the backward of
    /// everything recorded later, before that of everything recorded earlier), whether or not a
    /// gradient flows here. FSDP uses it to gather a block's parameters again before the block's
    /// backward and to reduce its gradients right after. Nothing is recorded when not recording.
    public func recordHook(_ body: @escaping () throws -> Void) {
        guard isRecording else { return }
        nodes.append(Node(output: nil, op: "hook", backward: { _ in try body() }))
    }

    /// Runs `body` without recording (like `torch.no_grad()`).
    public func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
        let saved = isRecording
        isRecording = false
        defer { isRecording = saved }
        return try body()
    }

    /// Back-propagates from a one-element `loss` (seed gradient `seed`), accumulating into every
    /// variable that requires a gradient, then releases the recorded activations.
    public func backward(_ loss: Variable, seed: Float = 1) throws {
        guard loss.value.count == 1 else {
            throw TensorError.shapeMismatch(op: "backward", detail: "loss must have one element, got shape \(loss.shape)")
        }
        guard loss.requiresGrad else {
            throw TensorError.invalidArgument(op: "backward", detail: "loss does not depend on any variable that requires a gradient")
        }
        let g = loss.gradBuffer()
        g.pointer[0] += seed
        defer { nodes.removeAll() }
        // Each node is dropped as soon as it ran, so its saved activations are freed while
        // backward goes on rather than all at the end.
        while let node = nodes.popLast() {
            guard let output = node.output else {
                try node.backward(nil)
                continue
            }
            guard let dy = output.grad else { continue }
            if let profile {
                try profile.backward(node.op) { try node.backward(dy) }
            } else {
                try node.backward(dy)
            }
            if !output.isLeaf { output.grad = nil }
        }
    }

    /// Drops everything recorded without running backward (e.g. after an evaluation pass).
    public func reset() { nodes.removeAll() }
}

extension Variable {
    /// `grad += t`; `t` must have this variable's shape. Copies rather than adopting `t`, which
    /// may be another variable's gradient. The first contribution is written as `0 + t` into a
    /// new buffer: the same bits as adding into zeros, without the zero-fill. Large ones are
    /// spread over `pool`.
    func accumulate(_ t: Tensor, pool: WorkerPool) throws {
        if let grad { try grad.accumulate(t, pool: pool); return }
        let g = Tensor(uninitialized: shape)
        try g.assign(zeroPlus: t, pool: pool)   // throws on a wrong shape before `grad` is set
        grad = g
    }
}
