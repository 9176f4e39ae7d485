import DPOHostSDK

/// The checks of a loss plugin's options in `create` (`LossOption` pairs each option with one):
/// they refuse values the math cannot use, naming the option, the value and the allowed range.
/// The host has already checked the types, and its error message names the plugin.
public struct OptionRules {
    let host: Host

    public init(_ host: Host) { self.host = host }

    /// A float option that must be > 0 (a temperature such as beta).
    public func positive(_ name: String) throws -> Float {
        let v = try host.optionFloat(name)
        guard v > 0, v.isFinite else { throw invalid(name, v, "must be > 0") }
        return Float(v)
    }

    /// A float option in `[lower, upper)` (label smoothing: the assumed fraction of flipped labels).
    public func halfOpen(_ name: String, _ lower: Double, _ upper: Double) throws -> Float {
        let v = try host.optionFloat(name)
        guard v >= lower, v < upper else { throw invalid(name, v, "must be in [\(lower), \(upper))") }
        return Float(v)
    }

    /// A float option that must be >= 0 (a weight such as TDPO2's alpha).
    public func nonNegative(_ name: String) throws -> Float {
        let v = try host.optionFloat(name)
        guard v >= 0, v.isFinite else { throw invalid(name, v, "must be >= 0") }
        return Float(v)
    }

    /// A float option in `(lower, upper)`, both ends excluded (EXO's eps, whose log is taken).
    public func open(_ name: String, _ lower: Double, _ upper: Double) throws -> Float {
        let v = try host.optionFloat(name)
        guard v > lower, v < upper else { throw invalid(name, v, "must be in (\(lower), \(upper))") }
        return Float(v)
    }

    /// A float option that must be finite (a coefficient of either sign).
    public func finite(_ name: String) throws -> Float {
        let v = try host.optionFloat(name)
        guard v.isFinite else { throw invalid(name, v, "must be finite") }
        return Float(v)
    }

    /// A string option that must be one of `choices`.
    public func choice(_ name: String, _ choices: [String]) throws -> String {
        let v = try host.optionString(name)
        guard choices.contains(v) else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT),
                           "option '\(name)' must be one of \(choices.joined(separator: ", ")), got '\(v)'")
        }
        return v
    }

    public func flag(_ name: String) throws -> Bool { try host.optionBool(name) }

    func invalid(_ name: String, _ value: Double, _ rule: String) -> DPHError {
        DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "option '\(name)' \(rule), got \(value)")
    }
}
