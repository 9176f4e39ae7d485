import Autograd
import CDPOHostSDK
import TensorCore

/// The inputs a loss plugin may consume (docs/spec/losses.md §8); levels not declared stay nil.
public struct LossInputs {
    public var batchPairs: Int
    public var policyChosenLogps, policyRejectedLogps: Variable?
    public var referenceChosenLogps, referenceRejectedLogps: Variable?
    public var chosenLengths, rejectedLengths: Variable?
    public var policyTokenLogps, referenceTokenLogps, responseMask: Variable?
    public var policyLogits, referenceLogits: Variable?
    public var labels: IndexTensor?
    /// `[B]` weights of the examples' losses (WPO), given to losses with `.pairWeights`.
    public var pairWeights: Variable?

    public init(batchPairs: Int) { self.batchPairs = batchPairs }
}

/// What a loss call produced: the scalar loss (on the caller's tape: `tape.backward(loss)`
/// reaches the policy parameters) and per-example metrics in the order they were emitted. The
/// plugin's own result names its metrics as the plugin did; the host's (`LossComputation`,
/// `CombinedLoss`) carries split-qualified names.
public struct LossResult {
    public let loss: Variable
    public let metrics: [(name: String, values: [Float])]

    public init(loss: Variable, metrics: [(name: String, values: [Float])]) {
        self.loss = loss
        self.metrics = metrics
    }

    public func metric(_ name: String) -> [Float]? { metrics.first { $0.name == name }?.values }
}

/// A loss plugin instance.
public struct LossPlugin {
    public struct Needs: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let sequence = Needs(rawValue: UInt32(DPH_LOSS_NEEDS_SEQUENCE))
        public static let token = Needs(rawValue: UInt32(DPH_LOSS_NEEDS_TOKEN))
        public static let logits = Needs(rawValue: UInt32(DPH_LOSS_NEEDS_LOGITS))
        /// The loss never reads the reference's inputs (the host may skip the reference model).
        public static let referenceFree = Needs(rawValue: UInt32(DPH_LOSS_REFERENCE_FREE))
        /// With `logits`: only the positions whose label counts are read (the rest may be 0).
        public static let scoredLogitsOnly = Needs(rawValue: UInt32(DPH_LOSS_LOGITS_SCORED_ONLY))
        /// The data order's permutation seeds are drawn below 2^31, as the TDPO reference draws them.
        public static let dataOrder31BitSeeds = Needs(rawValue: UInt32(DPH_LOSS_DATA_ORDER_31_BIT_SEEDS))
        /// The loss weighs each example by `pair_weights` when given (WPO).
        public static let pairWeights = Needs(rawValue: UInt32(DPH_LOSS_PAIR_WEIGHTS))
        /// The loss reads only the chosen rows: a run of such losses batches the SFT targets alone.
        public static let chosenOnly = Needs(rawValue: UInt32(DPH_LOSS_CHOSEN_ONLY))

        /// What breaks plugin.h's rules for needs flags, or nil: at least one input level, no
        /// unknown bit, and `scoredLogitsOnly` only with `logits`.
        static func problem(_ raw: UInt32) -> String? {
            let levels = Needs([.sequence, .token, .logits]).rawValue
            let known = Needs([.sequence, .token, .logits, .referenceFree, .scoredLogitsOnly, .dataOrder31BitSeeds, .pairWeights, .chosenOnly])
            let flags = "0x" + String(raw, radix: 16)
            if raw & levels == 0 { return "loss needs flags \(flags) must hold at least one DPH_LOSS_NEEDS_* level" }
            if raw & ~known.rawValue != 0 {
                return "loss needs flags \(flags) hold bits plugin.h does not define (0x\(String(raw & ~known.rawValue, radix: 16)))"
            }
            if raw & Needs.scoredLogitsOnly.rawValue != 0 && raw & Needs.logits.rawValue == 0 {
                return "loss needs flags \(flags) set DPH_LOSS_LOGITS_SCORED_ONLY without DPH_LOSS_NEEDS_LOGITS"
            }
            return nil
        }
    }

    public let instance: PluginInstance
    private let vtable: dph_loss_vtable

    public init(_ plugin: LoadedPlugin, options: [String: String] = [:]) throws {
        let instance = try PluginInstance(plugin: plugin, options: options, kind: .loss)
        self.instance = instance
        vtable = plugin.descriptor.lossVTable!
        if let ask = vtable.instance_needs {
            var raw: UInt32 = 0
            try instance.call("instance_needs", tape: Tape(pool: .serial, recording: false)) { ask(HostAPI.table, $0, instance.state, &raw) }
            try Self.check(raw, plugin: plugin.name)
            needs = Needs(rawValue: raw)
        } else {
            needs = Needs(rawValue: vtable.needs)
        }
    }

    /// What this instance reads: the vtable's `needs`, or what `instance_needs` said for its options.
    public let needs: Needs

    /// The rules of `instance_needs`' answer: those of the vtable's `needs`.
    static func check(_ raw: UInt32, plugin: String) throws {
        if let problem = Needs.problem(raw) {
            throw PluginError.pluginFailed(plugin: plugin, call: "instance_needs", status: Int32(DPH_ERR_INVALID_ARGUMENT), message: problem)
        }
    }

    /// Runs the plugin's loss on `tape`; the loss can be back-propagated like any host op.
    public func compute(_ inputs: LossInputs, tape: Tape) throws -> LossResult {
        let compute = vtable.compute!
        let state = instance.state
        let needs = self.needs
        var out: dph_tensor = 0
        var arena: TensorArena?
        let ctx = try instance.call("compute", tape: tape) { p in
            let a = CallContext.from(p)!.arena
            arena = a
            func h(_ v: Variable?, _ level: Needs) -> dph_tensor { needs.contains(level) ? v.map(a.add) ?? 0 : 0 }
            var c = dph_loss_inputs()
            c.struct_size = UInt32(MemoryLayout<dph_loss_inputs>.size)
            c.batch_pairs = Int64(inputs.batchPairs)
            c.policy_chosen_logps = h(inputs.policyChosenLogps, .sequence)
            c.policy_rejected_logps = h(inputs.policyRejectedLogps, .sequence)
            c.reference_chosen_logps = h(inputs.referenceChosenLogps, .sequence)
            c.reference_rejected_logps = h(inputs.referenceRejectedLogps, .sequence)
            c.chosen_lengths = h(inputs.chosenLengths, .sequence)
            c.rejected_lengths = h(inputs.rejectedLengths, .sequence)
            c.policy_token_logps = h(inputs.policyTokenLogps, .token)
            c.reference_token_logps = h(inputs.referenceTokenLogps, .token)
            c.response_mask = h(inputs.responseMask, .token)
            c.policy_logits = h(inputs.policyLogits, .logits)
            c.reference_logits = h(inputs.referenceLogits, .logits)
            c.labels = needs.contains(.logits) ? inputs.labels.map(a.add) ?? 0 : 0
            c.pair_weights = needs.contains(.pairWeights) ? inputs.pairWeights.map(a.add) ?? 0 : 0
            return compute(HostAPI.table, p, state, &c, &out)
        }
        let loss: Variable
        do {
            loss = try arena!.float(out, "the returned loss")
        } catch let e as HostCallError {
            throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "compute", status: e.status, message: e.message)
        }
        guard loss.value.count == 1 else {
            throw PluginError.pluginFailed(plugin: instance.plugin.name, call: "compute", status: Int32(DPH_ERR_SHAPE),
                                           message: "the loss must be a scalar, got shape \(loss.shape)")
        }
        return LossResult(loss: loss, metrics: ctx.metrics)
    }
}
