/// MT19937, seeded the two ways the reference seeds it, so data order is bit-exact (docs/spec/data.md §9.3):
/// numpy's legacy `seed(n)` (`init_genrand`) for the permutation seeds, and Python's
/// `random.seed(n)` (`init_by_array([n])`) for each epoch's `random.shuffle`.
public struct MersenneTwister {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// numpy `RandomState.seed(n)` (legacy integer seeding).
    public init(numpySeed seed: UInt32) {
        state[0] = seed
        for i in 1..<624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
    }

    /// Python `random.seed(n)` for `0 <= n < 2^32`: `init_by_array([n])`.
    public init(pythonSeed seed: UInt32) {
        self.init(numpySeed: 19_650_218)
        let key = [seed]
        var i = 1, j = 0
        for _ in 0..<max(624, key.count) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1; j += 1
            if i >= 624 { state[0] = state[623]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= 624 { state[0] = state[623]; i = 1 }
        }
        state[0] = 0x8000_0000
        index = 624
    }

    public mutating func next32() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
            state[i] = state[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : 0x9908_B0DF)
        }
        index = 0
    }

    /// Python's `_randbelow(n)` by rejection on `getrandbits(bit_length(n))`, for n < 2^32.
    public mutating func randomBelow(_ n: Int) -> Int {
        precondition(n > 0 && n <= Int(UInt32.max))
        let k = Int.bitWidth - n.leadingZeroBitCount
        while true {
            let r = Int(next32() >> UInt32(32 - k))
            if r < n { return r }
        }
    }

    /// Python's `random.shuffle(x)` (Fisher-Yates from the end).
    public mutating func shuffle<T>(_ x: inout [T]) {
        guard x.count > 1 else { return }
        for i in stride(from: x.count - 1, through: 1, by: -1) {
            x.swapAt(i, randomBelow(i + 1))
        }
    }

    /// The reference's permutation seeds: `numpy.random.seed(0); randint(0, 2**32, size=count)`
    /// (one raw output each); the TDPO reference draws below 2**31 (the top bit cleared).
    public static func permutationSeeds(count: Int, seed: UInt32 = 0, tdpoBounds: Bool = false) -> [UInt32] {
        var mt = MersenneTwister(numpySeed: seed)
        return (0..<count).map { _ in
            let v = mt.next32()
            return tdpoBounds ? v & 0x7FFF_FFFF : v
        }
    }
}
