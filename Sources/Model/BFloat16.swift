import CMPI

/// float32 <-> bfloat16 bit patterns (round to nearest even, NaN kept), for FSDP's
/// `fsdp_policy_mp=bfloat16` communication.
public enum BFloat16 {
    public static func bits(_ x: Float) -> UInt16 { cmpi_bf16_from_float(x) }
    public static func value(_ bits: UInt16) -> Float { cmpi_float_from_bf16(bits) }
    /// `x` rounded to the nearest bfloat16, as a float.
    public static func rounded(_ x: Float) -> Float { value(bits(x)) }
}
