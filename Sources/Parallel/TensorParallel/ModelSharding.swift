import Autograd
import Foundation
import Model
import TensorCore

extension ModelShards {
    /// Full tensors on the root (the split ones gathered, the others as they are); nil on the
    /// other ranks. Every rank must call it with the same names.
    public func gatherFull(_ local: [String: Tensor], group: TensorParallelGroup) throws -> [String: Tensor]? {
        var out: [String: Tensor] = [:]
        for name in local.keys.sorted() {
            let t = local[name]!
            if let axis = axes[name] {
                if let full = try group.gatherToRoot(t, axis: axis, fullShape: fullShapes[name]!) { out[name] = full }
            } else {
                out[name] = t
            }
        }
        return group.communicator.isRoot ? out : nil
    }
}

extension LanguageModel {
    /// Splits the linears the model plugin marked column- or row-parallel across the ranks of
    /// `group`: this model keeps only its blocks of them (the full tensors are released) and the
    /// plugin's `linear` calls on them go through `ShardedLinear`.
    ///
    /// `linearUses()` first records how each marked weight is used (its layout and bias).
    public func shard(over group: TensorParallelGroup) throws -> TensorParallelPlan {
        let recorded = try linearUses()
        let names = Dictionary(uniqueKeysWithValues: parameters.map { (ObjectIdentifier($0.variable), $0.name) })
        var uses: [String: LinearUse?] = [:]
        for (id, use) in recorded {
            guard let name = names[id] else { continue }
            uses[name] = use.map { LinearUse(layout: $0.layout, bias: $0.bias.flatMap { names[$0] }) }
        }
        let plan = try TensorParallelPlan(specs: plugin.parameterSpecs, uses: uses, worldSize: group.size)
        let shards = ModelShards(rank: group.rank, worldSize: group.size, axes: plan.axes,
                                 fullShapes: Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.variable.shape) }))
        let local = try parameters.map { p -> NamedParameter in
            guard plan.axes[p.name] != nil else { return p }
            return NamedParameter(name: p.name, variable: Variable(try shards.local(p.name, of: p.variable.value),
                                                                   requiresGrad: p.variable.requiresGrad))
        }
        let byName = Dictionary(uniqueKeysWithValues: local.map { ($0.name, $0.variable) })
        try adopt(shards: shards, parameters: local)
        if group.size > 1 {
            let roles = plan.linears.map { l -> (weight: Variable, role: ShardedLinear.Role) in
                (byName[l.weight]!, l.style == .column ? .column(bias: l.bias.map { ObjectIdentifier(byName[$0]!) }) : .row)
            }
            plugin.linearInterceptor = ShardedLinear(roles: roles, group: group)
        }
        return plan
    }
}
