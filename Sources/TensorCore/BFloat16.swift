/// float32 <-> bfloat16 bit patterns (round to nearest even, NaN kept quiet), as torch rounds:
/// the reference's 16-bit weights and FSDP's `fsdp_policy_mp=bfloat16` communication.
public enum BFloat16 {
    public static func bits(_ x: Float) -> UInt16 {
        var b = x.bitPattern
        if b & 0x7fff_ffff > 0x7f80_0000 { return UInt16(truncatingIfNeeded: b >> 16) | 0x40 }
        b &+= 0x7fff &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: b >> 16)
    }

    public static func value(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// `x` rounded to the nearest bfloat16, as a float.
    public static func rounded(_ x: Float) -> Float { value(bits(x)) }
}
