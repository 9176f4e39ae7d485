import TensorCore


/// `reference_dtype`: the type the frozen reference's weights are cast to, as the reference
/// implementation loads its reference model (float16 by default in its model configs). The
/// kernels compute in float32 on the cast weights; this CPU has no half-precision arithmetic,
/// so activations are not rounded as a GPU half-precision forward would round them.
public enum WeightPrecision: String, Sendable {
    case float32, float16, bfloat16

    public init(configValue: String) throws {
        switch configValue {
        case "float32", "fp32": self = .float32
        case "float16", "fp16", "half": self = .float16
        case "bfloat16", "bf16": self = .bfloat16
        default:
            throw ModelError.notAModelDirectory("model.reference_dtype=\(configValue): expected float32, float16 or bfloat16")
        }
    }

    /// The 16-bit pattern of `x` (round to nearest even). Only for float16 and bfloat16.
    @inline(__always)
    func encode(_ x: Float) -> UInt16 {
        self == .float16 ? Float16(x).bitPattern : BFloat16.bits(x)
    }

    @inline(__always)
    func decode(_ bits: UInt16) -> Float {
        self == .float16 ? Float(Float16(bitPattern: bits)) : BFloat16.value(bits)
    }

    /// `x` as the nearest value of this type.
    @inline(__always)
    public func round(_ x: Float) -> Float { self == .float32 ? x : decode(encode(x)) }

    /// Rounds `count` floats in place.
    public func round(_ p: UnsafeMutablePointer<Float>, count: Int) {
        guard self != .float32 else { return }
        for i in 0..<count { p[i] = round(p[i]) }
    }
}
