/// Widening of 16-bit weights to float32 (a frozen model held as float16 or bfloat16 and
/// expanded block by block for each forward and backward): every value of a model passes through
/// it three times a LoRA step, so it runs in SIMD blocks (F16C's conversion where the build
/// targets it) over the product threads.
public enum HalfPrecision {
    /// `out[i] = Float(float16 bits[i])`.
    public static func widen(float16 bits: UnsafePointer<UInt16>, into out: UnsafeMutablePointer<Float>, count: Int) {
        split(count) { lo, hi in
            var i = lo
            while i + 8 <= hi {
                let v = UnsafeRawPointer(bits + i).loadUnaligned(as: SIMD8<UInt16>.self)
                (UnsafeMutableRawPointer(out + i)).storeBytes(of: SIMD8<Float>(unsafeBitCast(v, to: SIMD8<Float16>.self)), as: SIMD8<Float>.self)
                i += 8
            }
            while i < hi { out[i] = Float(Float16(bitPattern: bits[i])); i += 1 }
        }
    }

    /// `out[i] = Float(bfloat16 bits[i])`: the bits are float32's upper half.
    public static func widen(bfloat16 bits: UnsafePointer<UInt16>, into out: UnsafeMutablePointer<Float>, count: Int) {
        split(count) { lo, hi in
            var i = lo
            while i + 8 <= hi {
                let v = SIMD8<UInt32>(truncatingIfNeeded: UnsafeRawPointer(bits + i).loadUnaligned(as: SIMD8<UInt16>.self)) &<< 16
                (UnsafeMutableRawPointer(out + i)).storeBytes(of: unsafeBitCast(v, to: SIMD8<Float>.self), as: SIMD8<Float>.self)
                i += 8
            }
            while i < hi { out[i] = Float(bitPattern: UInt32(bits[i]) << 16); i += 1 }
        }
    }

    /// Runs `body(lo, hi)` over `count` in one block per product thread (one block when small).
    private static func split(_ count: Int, _ body: (Int, Int) -> Void) {
        let blocks = count < 1 << 16 ? 1 : max(1, Gemm.threads)
        let per = (count + blocks - 1) / max(blocks, 1)
        WorkerThreads.shared.run(chunks: blocks) { b in
            let lo = b * per, hi = min(count, lo + per)
            if lo < hi { body(lo, hi) }
        }
    }
}
