import Autograd
import PluginHost

public enum TensorParallelError: Error, CustomStringConvertible, Equatable {
    case notALinearWeight(parameter: String, style: String)
    case conflictingUses(parameter: String)
    case indivisible(parameter: String, shape: [Int], axis: Int, what: String, worldSize: Int)
    case sharedBias(bias: String, weights: [String])

    public var description: String {
        switch self {
        case let .notALinearWeight(p, style):
            return "tensor parallelism: '\(p)' is declared \(style)-parallel but the model's forward never uses it as a linear weight"
        case let .conflictingUses(p):
            return "tensor parallelism: '\(p)' is used by linears of different layouts or biases; it cannot be split one way"
        case let .indivisible(p, shape, axis, what, n):
            return "tensor parallelism over \(n) ranks splits '\(p)' \(shape) along axis \(axis) (its \(what), \(shape[axis])), which is not divisible by \(n); run with a world size that divides it"
        case let .sharedBias(b, ws):
            return "tensor parallelism: bias '\(b)' belongs to column-parallel \(ws.joined(separator: " and ")); a sharded bias must belong to one weight"
        }
    }
}

/// How a linear weight was used in the model's forward (recorded by `LinearLayoutProbe`).
struct LinearUse: Equatable {
    let layout: LinearLayout
    let bias: String?
}

/// Which parameters tensor parallelism splits, and along which axis.
///
/// A column-parallel weight is cut along its output features (axis 0 of `[out, in]`, axis 1 of
/// GPT-2's `[in, out]`) together with its bias; a row-parallel weight along its input features,
/// its bias staying whole (added once, after the sum over ranks). Rank r holds block r of
/// `worldSize` equal contiguous blocks. Everything else is replicated.
///
/// The blocks need not respect heads: after a column-parallel linear the ranks all-gather the
/// output in rank order, which rebuilds exactly the full output whatever the column order is
/// (GPT-2's q|k|v blocks, NeoX's per-head interleave, Llama's GQA projections alike).
public struct TensorParallelPlan: Equatable {
    public struct Linear: Equatable {
        public let weight: String
        public let style: ParallelStyle
        public let layout: LinearLayout
        public let bias: String?
    }

    public let worldSize: Int
    /// The split linears, in declaration order.
    public let linears: [Linear]
    /// Every split parameter (weights and column biases) -> the axis cut into blocks.
    public let axes: [String: Int]

    init(specs: [ParameterSpec], uses: [String: LinearUse?], worldSize: Int) throws {
        var linears: [Linear] = []
        var axes: [String: Int] = [:]
        let shapes = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0.shape) })
        var biasOwners: [String: [String]] = [:]
        for spec in specs where spec.parallel != .none {
            guard let recorded = uses[spec.name] else {
                throw TensorParallelError.notALinearWeight(parameter: spec.name, style: spec.parallel.rawValue)
            }
            guard let use = recorded else { throw TensorParallelError.conflictingUses(parameter: spec.name) }
            let outAxis = use.layout == .outIn ? 0 : 1
            let axis = spec.parallel == .column ? outAxis : 1 - outAxis
            guard spec.shape[axis] % worldSize == 0 else {
                throw TensorParallelError.indivisible(parameter: spec.name, shape: spec.shape, axis: axis,
                                                      what: spec.parallel == .column ? "output features" : "input features",
                                                      worldSize: worldSize)
            }
            axes[spec.name] = axis
            if spec.parallel == .column, let bias = use.bias {
                biasOwners[bias, default: []].append(spec.name)
                axes[bias] = 0
                precondition(shapes[bias] == [spec.shape[outAxis]], "the linear op checked the bias shape")
            }
            linears.append(Linear(weight: spec.name, style: spec.parallel, layout: use.layout, bias: use.bias))
        }
        if let (bias, owners) = biasOwners.first(where: { $0.value.count > 1 }) {
            throw TensorParallelError.sharedBias(bias: bias, weights: owners)
        }
        self.worldSize = worldSize
        self.linears = linears
        self.axes = axes
    }
}
