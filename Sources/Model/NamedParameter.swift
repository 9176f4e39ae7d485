import Autograd

/// A parameter under its Hugging Face name.
public struct NamedParameter {
    public let name: String
    public let variable: Variable
    public init(name: String, variable: Variable) {
        self.name = name
        self.variable = variable
    }
}
