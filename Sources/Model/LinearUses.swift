import Autograd
import PluginHost
import TensorCore

extension LanguageModel {
    /// How the model's forward uses each weight that goes through `linear` (its layout and
    /// bias), keyed by the weight's identity; nil for a weight used two different ways. A
    /// one-token forward records them: the declarations alone do not say. LoRA finds the linears
    /// it adapts by it, tensor parallelism the ones it splits.
    public func linearUses() throws -> [ObjectIdentifier: (layout: LinearLayout, bias: ObjectIdentifier?)?] {
        let probe = LinearLayoutProbe()
        plugin.linearInterceptor = probe
        let probed = Result {
            try forward(ids: IndexTensor(shape: [1, 1], values: [0]), mask: IndexTensor(shape: [1, 1], values: [1]),
                        tape: Tape(pool: .serial, recording: false))
        }
        plugin.linearInterceptor = nil
        _ = try probed.get()
        return probe.uses
    }
}

/// Records how the forward uses each weight (layout and bias), without changing anything: the
/// layout of a declared weight is known only from the `linear` calls.
private final class LinearLayoutProbe: LinearInterceptor {
    /// Weight identity -> its use; nil once two uses disagree.
    private(set) var uses: [ObjectIdentifier: (layout: LinearLayout, bias: ObjectIdentifier?)?] = [:]

    func linear(_ x: Variable, weight: Variable, bias: Variable?, layout: LinearLayout, tape: Tape) throws -> Variable? {
        let use = (layout: layout, bias: bias.map(ObjectIdentifier.init))
        let id = ObjectIdentifier(weight)
        if let seen = uses[id] {
            if let s = seen, s.layout != use.layout || s.bias != use.bias { uses[id] = .some(nil) }
        } else {
            uses[id] = use
        }
        return nil
    }
}
