import Foundation

/// The products `Gemm.sgemm` ran while attached (`Gemm.logging(into:)`), by shape: how many calls
/// and how long they took. The step benchmark times the same shapes again on each library with warm
/// caches, so it can say how close the products inside a step come to the best library at the
/// step's own shapes (`dpohost bench step --profile-ops`, docs/performance.md).
public final class GemmProductLog: @unchecked Sendable {
    /// One product as `Gemm.sgemm` received it.
    public struct Shape: Hashable, Sendable, Codable {
        public let transA, transB: Bool
        public let m, n, k: Int
        public let lda, ldb, ldc: Int
        /// `beta != 0`: the product adds to C (a gradient accumulating).
        public let accumulates: Bool
        /// Split over dpohost's threads (false: a call from inside a kernel that already runs on them).
        public let parallel: Bool

        public init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil,
                    accumulates: Bool = false, parallel: Bool = true) {
            (self.transA, self.transB, self.m, self.n, self.k) = (transA, transB, m, n, k)
            self.lda = lda ?? (transA ? m : k)
            self.ldb = ldb ?? (transB ? k : n)
            self.ldc = ldc ?? n
            (self.accumulates, self.parallel) = (accumulates, parallel)
        }

        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
        /// Elements the operands span: A, B and C with their leading dimensions.
        public var operandCounts: (a: Int, b: Int, c: Int) {
            ((transA ? k : m) * lda, (transB ? n : k) * ldb, m * ldc)
        }
        /// `NT 512x2304x768` (transposes of A and B, then M x N x K), `+=` where it accumulates.
        public var label: String {
            (transA ? "T" : "N") + (transB ? "T" : "N") + " \(m)x\(n)x\(k)" + (accumulates ? " +=" : "") + (parallel ? "" : " (1 thread)")
        }
    }

    public struct Entry: Sendable {
        public var calls = 0
        public var seconds = 0.0
        /// The fastest call's seconds: beside the library's fastest call, it compares the two with
        /// a shared machine's passing slowdowns left out of both (docs/performance.md).
        public var fastest = Double.infinity
    }

    private let lock = NSLock()
    private var table: [Shape: Entry] = [:]

    public init() {}

    /// Every shape logged so far with its calls and seconds.
    public var entries: [Shape: Entry] {
        lock.lock()
        defer { lock.unlock() }
        return table
    }

    /// Products can run on several threads at once (the attention kernels call from their workers).
    func record(_ shape: Shape, seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        var entry = table[shape, default: Entry()]
        entry.calls += 1
        entry.seconds += seconds
        entry.fastest = min(entry.fastest, seconds)
        table[shape] = entry
    }
}
