import DPOHostSDK

/// Divides per-sequence sums by their response token counts (`average_log_prob`, docs/spec/losses.md §4).
///
/// The references divide without a guard, so a sequence with no response tokens gives NaN.
/// We clamp the count to at least 1 and log a warning instead (a documented divergence).
public struct LengthAverage {
    let host: Host
    let counts: dph_tensor

    /// `lengths`: `[n]` token counts as float (the host's chosen/rejected lengths, or a mask's
    /// row sums). `what` names the sequences in the warning.
    public init(_ host: Host, lengths: dph_tensor, what: String) throws {
        let values = try host.floats(lengths)
        let empty = values.filter { $0 < 1 }.count
        if empty > 0 {
            host.log("\(empty) \(what) sequence(s) have no response tokens; averaging with a count of 1 "
                     + "(the reference would produce NaN)", level: DPH_LOG_WARNING)
        }
        self.host = host
        self.counts = try host.tensor(values.map { max($0, 1) }, shape: [values.count])
    }

    /// `sums / counts`, differentiable in `sums`.
    public func apply(_ sums: dph_tensor) throws -> dph_tensor { try host.div(sums, counts) }
}
