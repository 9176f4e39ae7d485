import Foundation
import TensorCore

/// How FSDP cuts a model into sharded units: every repeated block of the model plugin (its
/// `block_name`, e.g. `gpt_neox.layers.{i}`) is one unit, and all other parameters (embeddings,
/// final norm, head) form one more. A unit's parameters are flattened in declaration order and
/// zero-padded to a multiple of the world size; rank r owns the contiguous slice
/// `[r*S, (r+1)*S)` of that flat vector, S = padded length / world size.
public struct ShardLayout: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        /// Index into the model's parameter list, and where the parameter starts in the flat unit.
        public let parameter: Int
        public let offset: Int
        public let count: Int
    }

    public struct Unit: Sendable, Equatable {
        public let name: String
        public let members: [Member]
        /// Real elements (without padding).
        public let length: Int
        /// Elements each rank owns (padded length / world size).
        public let shardLength: Int
    }

    public let units: [Unit]
    public let worldSize: Int

    /// Name of the unit holding everything outside the repeated blocks.
    public static let outsideBlocks = "non_block"

    /// `parameters`: names and element counts in declaration order.
    public init(parameters: [(name: String, count: Int)], blockName: String, worldSize: Int) {
        precondition(worldSize > 0)
        var order: [String] = []
        var members: [String: [(Int, Int)]] = [:]
        for (i, p) in parameters.enumerated() {
            let unit = Self.blockPrefix(of: p.name, pattern: blockName) ?? Self.outsideBlocks
            if members[unit] == nil { order.append(unit) }
            members[unit, default: []].append((i, p.count))
        }
        units = order.map { name in
            var offset = 0
            let list = members[name]!.map { (index, count) -> Member in
                defer { offset += count }
                return Member(parameter: index, offset: offset, count: count)
            }
            let shard = (offset + worldSize - 1) / worldSize
            return Unit(name: name, members: list, length: offset, shardLength: shard)
        }
        self.worldSize = worldSize
    }

    /// `gpt_neox.layers.3` for `gpt_neox.layers.3.mlp.dense_h_to_4h.weight` under the pattern
    /// `gpt_neox.layers.{i}`; nil when the name lies outside every block.
    static func blockPrefix(of name: String, pattern: String) -> String? {
        let parts = pattern.components(separatedBy: "{i}")
        guard parts.count == 2, name.hasPrefix(parts[0]) else { return nil }
        let rest = name.dropFirst(parts[0].count)
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return nil }
        let afterIndex = rest.dropFirst(digits.count)
        guard afterIndex.hasPrefix(parts[1] + ".") else { return nil }
        return parts[0] + digits + parts[1]
    }

    /// Elements owned by one rank over all units.
    public var shardElements: Int { units.reduce(0) { $0 + $1.shardLength } }
    /// Elements of the whole model.
    public var totalElements: Int { units.reduce(0) { $0 + $1.length } }
}

extension ShardLayout.Unit {
    /// The unit's members concatenated and zero-padded to `shardLength * worldSize` (a missing
    /// tensor reads as zeros).
    public func flatten(worldSize: Int, _ tensor: (Int) -> Tensor?) -> [Float] {
        var flat = [Float](repeating: 0, count: shardLength * worldSize)
        flat.withUnsafeMutableBufferPointer { flatten(into: $0, tensor) }
        return flat
    }

    /// The same into `dst` (`shardLength * worldSize` elements, zeroed where no member is).
    public func flatten(into dst: UnsafeMutableBufferPointer<Float>, _ tensor: (Int) -> Tensor?) {
        for m in members {
            guard let t = tensor(m.parameter)?.contiguous() else { continue }
            (dst.baseAddress! + m.offset).update(from: t.pointer, count: m.count)
        }
    }
}
