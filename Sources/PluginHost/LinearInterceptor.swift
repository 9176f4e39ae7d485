import Autograd

/// Lets the host take over a model plugin's `linear` calls for some weights, without the plugin
/// knowing: tensor parallelism binds a rank's shard of a weight and computes with it here,
/// inserting the collectives that make the result what the full weight would give.
public protocol LinearInterceptor: AnyObject {
    /// The result of `linear(x, weight, bias)` when this interceptor handles `weight`; nil to let
    /// the plain op run.
    func linear(_ x: Variable, weight: Variable, bias: Variable?, layout: LinearLayout, tape: Tape) throws -> Variable?
}
