import DPOHostSDK

/// The C callbacks of a loss plugin reduced to Swift closures: `create` turns the options into
/// a settings object kept as instance state, `compute` gets those settings back with the inputs.
public enum LossEntry {
    /// Body of `create`: `make` reads and checks the options; its result is the instance state.
    public static func create(_ api: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?,
                              _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                              _ make: (Host) throws -> AnyObject) -> dph_status {
        Host(api, ctx).run { host in
            guard let out else { throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "out_state is NULL") }
            out.pointee = InstanceState.box(try make(host))
        }
    }

    /// Body of `compute`: `body` returns the scalar loss handle.
    public static func compute<Settings: AnyObject>(
        _ api: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?, _ state: UnsafeMutableRawPointer?,
        _ inputs: UnsafePointer<dph_loss_inputs>?, _ out: UnsafeMutablePointer<dph_tensor>?, as type: Settings.Type,
        _ body: (Host, Settings, dph_loss_inputs) throws -> dph_tensor) -> dph_status {
        Host(api, ctx).run { host in
            guard let inputs = inputs?.pointee, let out else {
                throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "compute called without inputs or out_loss")
            }
            out.pointee = try body(host, try InstanceState.borrow(state, as: type), inputs)
        }
    }

    /// Body of `compute` for settings that compute themselves.
    public static func compute<Loss: LossComputing>(
        _ api: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?, _ state: UnsafeMutableRawPointer?,
        _ inputs: UnsafePointer<dph_loss_inputs>?, _ out: UnsafeMutablePointer<dph_tensor>?, as type: Loss.Type) -> dph_status {
        compute(api, ctx, state, inputs, out, as: type) { host, loss, inputs in try loss.compute(host, inputs) }
    }

    /// Body of `instance_needs`: `needs` says what these settings read.
    public static func instanceNeeds<Settings: AnyObject>(
        _ api: UnsafePointer<dph_host_api>?, _ ctx: OpaquePointer?, _ state: UnsafeMutableRawPointer?,
        _ out: UnsafeMutablePointer<UInt32>?, as type: Settings.Type, _ needs: (Settings) -> UInt32) -> dph_status {
        Host(api, ctx).run { _ in
            guard let out else { throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "out_needs is NULL") }
            out.pointee = needs(try InstanceState.borrow(state, as: type))
        }
    }
}
