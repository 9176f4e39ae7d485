import DPOHostSDK

/// One option of a loss plugin, declared once with its rule: the descriptor entry (name, type,
/// default, help: what `dpohost plugins info` shows and the host type-checks) and the check
/// that reads it in `create` (`OptionRules`). A plugin lists its options in
/// `LossDescription(options:)` and reads each with `read(host)`.
public struct LossOption<Value>: DeclaredOption {
    public let spec: PluginDescription.Option
    private let rule: @Sendable (OptionRules, String) throws -> Value

    public init(_ spec: PluginDescription.Option, rule: @escaping @Sendable (OptionRules, String) throws -> Value) {
        (self.spec, self.rule) = (spec, rule)
    }

    /// This instance's value, refused (naming the option, the value and the rule) when the math cannot use it.
    public func read(_ host: Host) throws -> Value { try rule(OptionRules(host), spec.name) }
}

/// What a descriptor lists: a `LossOption` of any value type, or a bare SDK option that the
/// plugin reads itself.
public protocol DeclaredOption: Sendable {
    var spec: PluginDescription.Option { get }
}

extension PluginDescription.Option: DeclaredOption {
    public var spec: PluginDescription.Option { self }
}

/// Float defaults are the text the descriptor shows (`plugins info`), as written.
extension LossOption where Value == Float {
    /// A float that must be > 0 (a temperature such as beta); `default` nil makes it required.
    public static func positive(_ name: String, default value: String?, help: String) -> Self {
        Self(.init(name, DPH_OPTION_FLOAT, default: value, help: help)) { try $0.positive($1) }
    }

    /// A float that must be >= 0 (a weight such as TDPO2's alpha).
    public static func nonNegative(_ name: String, default value: String, help: String) -> Self {
        Self(.init(name, DPH_OPTION_FLOAT, default: value, help: help)) { try $0.nonNegative($1) }
    }

    /// A float in `[lower, upper)` (label smoothing).
    public static func halfOpen(_ name: String, _ lower: Double, _ upper: Double, default value: String, help: String) -> Self {
        Self(.init(name, DPH_OPTION_FLOAT, default: value, help: help)) { try $0.halfOpen($1, lower, upper) }
    }

    /// A float in `(lower, upper)`, both ends excluded (EXO's eps, whose log is taken).
    public static func open(_ name: String, _ lower: Double, _ upper: Double, default value: String, help: String) -> Self {
        Self(.init(name, DPH_OPTION_FLOAT, default: value, help: help)) { try $0.open($1, lower, upper) }
    }

    /// Any finite float (a coefficient that may be negative).
    public static func finite(_ name: String, default value: String, help: String) -> Self {
        Self(.init(name, DPH_OPTION_FLOAT, default: value, help: help)) { try $0.finite($1) }
    }
}

extension LossOption where Value == Bool {
    /// A boolean, off unless set (or unless `default` is true).
    public static func flag(_ name: String, default value: Bool = false, help: String) -> Self {
        Self(.init(name, DPH_OPTION_BOOL, default: value ? "true" : "false", help: help)) { try $0.flag($1) }
    }
}

extension LossOption where Value: RawRepresentable & CaseIterable & Sendable, Value.RawValue == String {
    /// A string that must name one of `Value`'s cases (listed in the error in their declared order).
    public static func choice(_ name: String, default value: Value, help: String) -> Self {
        Self(.init(name, DPH_OPTION_STRING, default: value.rawValue, help: help)) { rules, name in
            Value(rawValue: try rules.choice(name, Value.allCases.map(\.rawValue)))!
        }
    }
}
