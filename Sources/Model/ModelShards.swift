import Foundation
import TensorCore

/// Which of a model's parameters this rank holds only a block of: rank `rank` of `worldSize`
/// holds block `rank` of the equal blocks along `axes[name]` of the full `fullShapes[name]`.
public struct ModelShards: Equatable {
    public let rank: Int
    public let worldSize: Int
    public let axes: [String: Int]
    public let fullShapes: [String: [Int]]

    public init(rank: Int, worldSize: Int, axes: [String: Int], fullShapes: [String: [Int]]) {
        self.rank = rank; self.worldSize = worldSize; self.axes = axes; self.fullShapes = fullShapes
    }

    /// This rank's block of `full` (a copy) when `name` is split, `full` itself otherwise.
    public func local(_ name: String, of full: Tensor) throws -> Tensor {
        guard let axis = axes[name] else { return full }
        let w = full.shape[axis] / worldSize
        return try full.slice(axis: axis, (rank * w)..<((rank + 1) * w)).copy()
    }
}
