import Autograd

/// Lets the host take over a model plugin's `linear` calls for some weights, without the plugin
/// knowing: tensor parallelism binds a rank's shard of a weight and computes with it here,
/// inserting the collectives that make the result what the full weight would give; LoRA adds its
/// adapters here, and hands a trained copy in place of the parameters of `modules_to_save`.
public protocol LinearInterceptor: AnyObject {
    /// The result of `linear(x, weight, bias)` when this interceptor handles `weight`; nil to let
    /// the plain op run.
    func linear(_ x: Variable, weight: Variable, bias: Variable?, layout: LinearLayout, tape: Tape) throws -> Variable?
    /// What the plugin receives when it fetches parameter `name`, in place of the bound value;
    /// nil for the bound value.
    func substitute(parameter name: String) -> Variable?
}

extension LinearInterceptor {
    public func substitute(parameter name: String) -> Variable? { nil }
}
