/// The element types a safetensors header may name. Only the ones the loader can convert are
/// read; the rest are still recognised so their byte sizes validate and errors say "cannot be
/// read as float" rather than "unknown".
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: return 1
        }
    }
}

/// Bit-exact widening of 16-bit floats to float32 (every half and bfloat16 value is exactly
/// representable as a float32, so no rounding happens here).
enum HalfConversion {
    /// IEEE 754 binary16 -> binary32, including subnormals, infinities and NaN payloads.
    /// Done on bits rather than via `Float16`, which is unavailable on some platforms (macOS x86_64).
    static func float(fromHalf h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F {
            // inf / NaN: all-ones exponent, payload moved to the top of the float mantissa
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }  // signed zero
            // subnormal: value = mantissa * 2^-24, exact in float32
            let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)  // 2^-24
            return sign == 0 ? magnitude : -magnitude
        }
        // normal: rebias exponent 15 -> 127
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// bfloat16 is the upper half of a float32.
    static func float(fromBFloat16 b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }
}
