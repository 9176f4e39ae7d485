/// `numpy.random.default_rng(seed).permutation(n)`, bit for bit: SeedSequence -> PCG64 (XSL-RR
/// 128/64) -> `Generator.shuffle` of `arange(n)` with masked rejection sampling. Hugging Face
/// `Dataset.shuffle(seed=42)` is exactly this permutation (StackExchange's split, docs/spec/data.md §4.1).
public enum NumpyPermutation {
    public static func permutation(count n: Int, seed: UInt32) -> [Int] {
        var rng = PCG64(state: SeedSequence.generateState(entropy: seed, words: 8))
        var x = Array(0..<n)
        var i = n - 1
        while i >= 1 {
            let j = Int(rng.interval(UInt64(i)))
            x.swapAt(i, j)
            i -= 1
        }
        return x
    }
}

/// numpy's SeedSequence for a single 32-bit entropy word, pool size 4.
enum SeedSequence {
    static let initA: UInt32 = 0x43B0_D7E5, multA: UInt32 = 0x931E_8875
    static let initB: UInt32 = 0x8B51_F9DD, multB: UInt32 = 0x58F3_8DED
    static let mixMultL: UInt32 = 0xCA01_F9DD, mixMultR: UInt32 = 0x4973_F715

    static func generateState(entropy: UInt32, words: Int) -> [UInt32] {
        var hashConst = initA
        func hashmix(_ v: UInt32) -> UInt32 {
            var value = v ^ hashConst
            hashConst = hashConst &* multA
            value = value &* hashConst
            return value ^ (value >> 16)
        }
        func mix(_ x: UInt32, _ y: UInt32) -> UInt32 {
            let r = (mixMultL &* x) &- (mixMultR &* y)
            return r ^ (r >> 16)
        }
        var pool = [UInt32](repeating: 0, count: 4)
        for i in 0..<4 { pool[i] = hashmix(i == 0 ? entropy : 0) }
        for src in 0..<4 {
            for dst in 0..<4 where src != dst { pool[dst] = mix(pool[dst], hashmix(pool[src])) }
        }
        var out: [UInt32] = []
        var h = initB
        for k in 0..<words {
            var v = pool[k % 4] ^ h
            h = h &* multB
            v = v &* h
            out.append(v ^ (v >> 16))
        }
        return out
    }
}

/// numpy's PCG64: a 128-bit LCG with the XSL-RR output, and its buffered 32-bit draws.
struct PCG64 {
    private var high: UInt64 = 0, low: UInt64 = 0
    private let incHigh: UInt64, incLow: UInt64
    private var spare: UInt32?

    static let multHigh: UInt64 = 2_549_297_995_355_413_924, multLow: UInt64 = 4_865_540_595_714_422_341

    /// `state` = 8 SeedSequence words read as 4 little-endian uint64: seed (high, low), inc (high, low).
    init(state w: [UInt32]) {
        let u = (0..<4).map { UInt64(w[2 * $0]) | UInt64(w[2 * $0 + 1]) << 32 }
        // pcg_setseq_128_srandom_r: inc = initseq << 1 | 1; step; state += initstate; step.
        incHigh = u[2] << 1 | u[3] >> 63
        incLow = u[3] << 1 | 1
        step()
        let (l, carry) = low.addingReportingOverflow(u[1])
        low = l
        high = high &+ u[0] &+ (carry ? 1 : 0)
        step()
    }

    private mutating func step() {
        // state = state * mult + inc (mod 2^128)
        let (ph, pl) = low.multipliedFullWidth(by: Self.multLow)
        let h = ph &+ low &* Self.multHigh &+ high &* Self.multLow
        let (l, carry) = pl.addingReportingOverflow(incLow)
        low = l
        high = h &+ incHigh &+ (carry ? 1 : 0)
    }

    mutating func next64() -> UInt64 {
        step()
        let rot = high >> 58
        let v = high ^ low
        return v >> rot | v << ((64 - rot) & 63)
    }

    mutating func next32() -> UInt32 {
        if let s = spare { spare = nil; return s }
        let v = next64()
        spare = UInt32(v >> 32)
        return UInt32(truncatingIfNeeded: v)
    }

    /// `random_interval`: uniform in 0...max by masking and rejection.
    mutating func interval(_ max: UInt64) -> UInt64 {
        if max == 0 { return 0 }
        var mask = max
        for s in [1, 2, 4, 8, 16, 32] as [UInt64] { mask |= mask >> s }
        if max <= 0xFFFF_FFFF {
            while true {
                let v = UInt64(next32()) & mask
                if v <= max { return v }
            }
        }
        while true {
            let v = next64() & mask
            if v <= max { return v }
        }
    }
}
