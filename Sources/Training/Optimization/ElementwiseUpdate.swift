import Autograd
import Model
import TensorCore

/// Runs an optimizer's per-element update over all parameters in one parallel pass.
///
/// Every parameter with a gradient is cut into blocks of at most `block` elements; the block
/// list is spread over the pool once per step (instead of one dispatch per parameter, where the
/// many small biases and norms ran on one thread each), and each block runs `body` on its
/// parameter, gradient and state pointers. The blocks are disjoint, and each element sees the
/// same arithmetic as in a per-parameter loop, so results do not depend on the thread count.
struct ElementwiseUpdate {
    static let block = 1 << 15

    /// One block: element `offset ..< offset + count` of parameter `parameter`.
    struct Block {
        let parameter: Int
        let offset: Int
        let count: Int
    }

    /// Raw pointers of one parameter: value, gradient and up to two state slots.
    struct Pointers: @unchecked Sendable {
        let w: UnsafeMutablePointer<Float>
        let g: UnsafeMutablePointer<Float>
        let s0: UnsafeMutablePointer<Float>?
        let s1: UnsafeMutablePointer<Float>?
    }

    private struct Plan: @unchecked Sendable {
        let pointers: [Pointers]
        let blocks: [Block]
    }

    /// The parameters that have a gradient, with up to two state slots each from `slots`, and
    /// whether their gradient buffers are all distinct (zeroing in the same pass is safe only
    /// then: a gradient shared by two entries must survive the first one's update).
    static func gather(_ parameters: [NamedParameter], slots: (NamedParameter) -> (Tensor?, Tensor?))
        -> (pointers: [Pointers], counts: [Int], distinctGradients: Bool) {
        var pointers: [Pointers] = [], counts: [Int] = []
        var seen = Set<UnsafeMutablePointer<Float>>()
        var distinct = true
        for p in parameters {
            guard let g = p.variable.grad else { continue }
            let (a, b) = slots(p)
            let w = p.variable.value
            pointers.append(Pointers(w: w.pointer, g: g.pointer, s0: a?.pointer, s1: b?.pointer))
            counts.append(w.count)
            if !seen.insert(g.pointer).inserted { distinct = false }
        }
        return (pointers, counts, distinct)
    }

    /// `body(pointers advanced to the block, count)` for every block, spread over `pool`.
    static func run(_ pointers: [Pointers], counts: [Int], pool: WorkerPool,
                    _ body: (Pointers, Int) -> Void) {
        var blocks: [Block] = []
        for (i, n) in counts.enumerated() {
            var at = 0
            while at < n {
                blocks.append(Block(parameter: i, offset: at, count: min(block, n - at)))
                at += block
            }
        }
        let plan = Plan(pointers: pointers, blocks: blocks)
        pool.parallelFor(blocks.count, grain: 1) { r in
            for b in plan.blocks[r] {
                let p = plan.pointers[b.parameter], o = b.offset
                body(Pointers(w: p.w + o, g: p.g + o, s0: p.s0.map { $0 + o }, s1: p.s1.map { $0 + o }), b.count)
            }
        }
    }
}

/// Loads and stores of 8 floats at a time at any alignment.
extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always) func load8(_ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(self + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) func store8(_ v: SIMD8<Float>, _ i: Int) {
        UnsafeMutableRawPointer(self + i).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
