import Autograd
import PluginHost
import TensorCore

/// Runs a model plugin's linears on this rank's shards (Megatron-LM's column- and row-parallel
/// linears), so the plugin's forward is unchanged and sees full activations everywhere else.
///
/// Column-parallel: `y = gather(x W_r + b_r)`, x entering through `allReduceBackward` (each
/// rank's shard yields only part of x's gradient). Row-parallel: `y = sum(x_r W_r) + b`, where
/// x_r is this rank's block of the (replicated) input's features, again entering through
/// `allReduceBackward`; the bias is whole and added once, after the sum.
final class ShardedLinear: LinearInterceptor {
    enum Role {
        case column(bias: ObjectIdentifier?)
        case row
    }

    private let roles: [ObjectIdentifier: Role]
    private let group: TensorParallelGroup
    /// Variables whose identities key `roles` (kept alive so the identities stay theirs).
    private let weights: [Variable]

    init(roles: [(weight: Variable, role: Role)], group: TensorParallelGroup) {
        self.roles = Dictionary(uniqueKeysWithValues: roles.map { (ObjectIdentifier($0.weight), $0.role) })
        self.weights = roles.map(\.weight)
        self.group = group
    }

    func linear(_ x: Variable, weight: Variable, bias: Variable?, layout: LinearLayout, tape: Tape) throws -> Variable? {
        guard let role = roles[ObjectIdentifier(weight)] else { return nil }
        let group = self.group
        let input = tape.allReduceBackward(x, sum: group.sum)
        switch role {
        case let .column(expectedBias):
            guard bias.map(ObjectIdentifier.init) == expectedBias else {
                throw TensorError.invalidArgument(op: "linear", detail: "a column-parallel weight must be used with the bias it was split with")
            }
            let local = try tape.linear(input, weight: weight, bias: bias, layout: layout)
            return try tape.allGatherLastAxis(local, part: group.rank, parts: group.size, gather: group.gatherLastAxis)
        case .row:
            let w = (layout == .outIn ? weight.shape[1] : weight.shape[0])
            let features = x.shape.count - 1
            guard x.shape.last == w * group.size else {
                throw TensorError.shapeMismatch(op: "linear", detail: "input \(x.shape) for a row-parallel weight of \(w) of \(w * group.size) input features")
            }
            let block = try tape.slice(input, axis: features, range: (group.rank * w)..<((group.rank + 1) * w))
            let partial = try tape.linear(block, weight: weight, bias: nil, layout: layout)
            let summed = try tape.allReduceForward(partial, sum: group.sum)
            return try bias.map { try tape.add(summed, $0) } ?? summed
        }
    }
}
