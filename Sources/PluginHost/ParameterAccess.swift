import Autograd

/// Lets the host see a model plugin's parameter fetches and the end of each forward, without the
/// plugin knowing: FSDP keeps only a shard of every block and gathers a block's parameters when
/// the plugin first asks for one of them, freeing them again once the forward moved on.
public protocol ParameterAccess: AnyObject {
    /// Called before the plugin receives the parameter `name` during a forward on `tape`.
    func willUse(_ name: String, tape: Tape) throws
    /// Called when a forward on `tape` returned or failed.
    func forwardEnded(tape: Tape) throws
}
