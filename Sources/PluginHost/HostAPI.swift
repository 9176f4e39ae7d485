import Autograd
import CDPOHostSDK
import DataPipeline
import Foundation
import TensorCore

/// The one `dph_host_api` table handed to every plugin. Built once, never mutated, never freed:
/// plugins may keep the pointer for the life of the process.
enum HostAPI {
    nonisolated(unsafe) static let table: UnsafePointer<dph_host_api> = {
        let p = UnsafeMutablePointer<dph_host_api>.allocate(capacity: 1)
        var api = dph_host_api()
        api.struct_size = UInt32(MemoryLayout<dph_host_api>.size)
        api.abi_version = PluginABI.current
        installDiagnostics(&api)
        installOptions(&api)
        installTensors(&api)
        installOps(&api)
        installEmitters(&api)
        installModel(&api)
        installBlocks(&api)
        p.initialize(to: api)
        return UnsafePointer(p)
    }()

    // MARK: errors and logging

    private static func installDiagnostics(_ api: inout dph_host_api) {
        api.last_error = { p in CallContext.from(p)?.lastErrorPointer }
        api.set_error = { p, code, message in
            let text = message.map { String(cString: $0) } ?? "(no message)"
            CallContext.from(p)?.setPluginError(text)
            return code == Int32(DPH_OK) ? Int32(DPH_ERR_PLUGIN) : code
        }
        api.log = { p, level, message in
            guard let ctx = CallContext.from(p), let message, level != DPH_LOG_DEBUG else { return }
            let tag = level == DPH_LOG_WARNING ? "warning" : "info"
            FileHandle.standardError.write(Data("[\(ctx.pluginName)] \(tag): \(String(cString: message))\n".utf8))
        }
    }

    // MARK: options

    private static func option(_ ctx: CallContext, _ name: UnsafePointer<CChar>?) throws -> OptionValue {
        let key = try requireString(name, "option name")
        guard let instance = ctx.instance else {
            throw HostCallError.invalid("options are not available during dph_plugin_init")
        }
        guard let value = instance.options.values[key] else {
            throw HostCallError.notFound("plugin '\(ctx.pluginName)' declares no option '\(key)'")
        }
        return value
    }

    private static func typeError(_ name: UnsafePointer<CChar>?, _ value: OptionValue, _ wanted: String) -> HostCallError {
        .invalid("option '\(name.map { String(cString: $0) } ?? "")' holds \(value), not \(wanted)")
    }

    private static func installOptions(_ api: inout dph_host_api) {
        api.option_int = { p, name, out in CallContext.run(p) { ctx in
            let v = try HostAPI.option(ctx, name)
            guard case let .int(i) = v else { throw HostAPI.typeError(name, v, "an int") }
            try requireOut(out).pointee = i
        } }
        api.option_float = { p, name, out in CallContext.run(p) { ctx in
            let v = try HostAPI.option(ctx, name)
            switch v {
            case let .float(f): try requireOut(out).pointee = f
            case let .int(i): try requireOut(out).pointee = Double(i)
            default: throw HostAPI.typeError(name, v, "a float")
            }
        } }
        api.option_bool = { p, name, out in CallContext.run(p) { ctx in
            let v = try HostAPI.option(ctx, name)
            guard case let .bool(b) = v else { throw HostAPI.typeError(name, v, "a bool") }
            try requireOut(out).pointee = b ? 1 : 0
        } }
        api.option_string = { p, name, out in CallContext.run(p) { ctx in
            let v = try HostAPI.option(ctx, name)
            guard case let .string(s) = v else { throw HostAPI.typeError(name, v, "a string") }
            try requireOut(out).pointee = ctx.instance!.strings.intern(s)
        } }
        api.option_list_count = { p, name, out in CallContext.run(p) { ctx in
            let v = try HostAPI.option(ctx, name)
            guard case let .list(items) = v else { throw HostAPI.typeError(name, v, "a list") }
            try requireOut(out).pointee = Int32(items.count)
        } }
        api.option_list_item = { p, name, index, out in CallContext.run(p) { ctx in
            let v = try HostAPI.option(ctx, name)
            guard case let .list(items) = v else { throw HostAPI.typeError(name, v, "a list") }
            guard index >= 0, Int(index) < items.count else {
                throw HostCallError(status: Int32(DPH_ERR_INDEX), message: "item \(index) of a list of \(items.count)")
            }
            try requireOut(out).pointee = ctx.instance!.strings.intern(items[Int(index)])
        } }
    }

    // MARK: tensors

    static func readShape(_ shape: UnsafePointer<Int64>?, _ rank: Int32) throws -> [Int] {
        guard rank >= 0, rank <= 16 else { throw HostCallError.invalid("rank \(rank) outside 0...16") }
        if rank == 0 { return [] }
        guard let shape else { throw HostCallError.invalid("shape is NULL for rank \(rank)") }
        let dims = (0..<Int(rank)).map { Int(shape[$0]) }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw HostCallError.invalid("negative dimension in shape \(dims)") }
        return dims
    }

    private static func installTensors(_ api: inout dph_host_api) {
        api.tensor_from_floats = { p, data, shape, rank, requiresGrad, out in CallContext.run(p) { ctx in
            let dims = try HostAPI.readShape(shape, rank)
            let t = Tensor(zeros: dims)
            if t.count > 0 {
                guard let data else { throw HostCallError.invalid("data is NULL for \(t.count) values") }
                t.pointer.update(from: data, count: t.count)
            }
            try requireOut(out).pointee = ctx.arena.add(Variable(t, requiresGrad: requiresGrad != 0))
        } }
        api.tensor_from_int32 = { p, data, shape, rank, out in CallContext.run(p) { ctx in
            let dims = try HostAPI.readShape(shape, rank)
            let n = Tensor.elementCount(dims)
            guard n == 0 || data != nil else { throw HostCallError.invalid("data is NULL for \(n) values") }
            let values = n == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: n))
            try requireOut(out).pointee = ctx.arena.add(try IndexTensor(shape: dims, values: values))
        } }
        api.tensor_zeros = { p, shape, rank, out in CallContext.run(p) { ctx in
            try requireOut(out).pointee = ctx.arena.add(Variable(Tensor(zeros: try HostAPI.readShape(shape, rank))))
        } }
        api.tensor_dtype = { p, t, out in CallContext.run(p) { ctx in
            let isFloat: Bool
            if case .float = try ctx.arena.slot(t) { isFloat = true } else { isFloat = false }
            try requireOut(out).pointee = isFloat ? DPH_FLOAT32 : DPH_INT32
        } }
        api.tensor_rank = { p, t, out in CallContext.run(p) { ctx in
            try requireOut(out).pointee = Int32(try ctx.arena.shape(t).count)
        } }
        api.tensor_shape = { p, t, out, capacity in CallContext.run(p) { ctx in
            let dims = try ctx.arena.shape(t)
            let n = min(dims.count, Int(max(capacity, 0)))
            if n > 0 {
                let dst = try requireOut(out, "out_dims")
                for i in 0..<n { dst[i] = Int64(dims[i]) }
            }
        } }
        api.tensor_read_floats = { p, t, dst, count in CallContext.run(p) { ctx in
            let v = try ctx.arena.float(t)
            guard Int(count) == v.value.count else {
                throw HostCallError(status: Int32(DPH_ERR_SHAPE), message: "tensor of shape \(v.shape) holds \(v.value.count) values, count is \(count)")
            }
            if count > 0 { try requireOut(dst, "dst").update(from: v.value.contiguous().pointer, count: Int(count)) }
        } }
        api.tensor_read_int32 = { p, t, dst, count in CallContext.run(p) { ctx in
            let v = try ctx.arena.index(t)
            guard Int(count) == v.count else {
                throw HostCallError(status: Int32(DPH_ERR_SHAPE), message: "tensor of shape \(v.shape) holds \(v.count) values, count is \(count)")
            }
            if count > 0 {
                let d = try requireOut(dst, "dst")
                v.values.withUnsafeBufferPointer { d.update(from: $0.baseAddress!, count: Int(count)) }
            }
        } }
    }

    // MARK: what plugins emit

    private static func installEmitters(_ api: inout dph_host_api) {
        api.emit_metric = { p, name, values in CallContext.run(p) { ctx in
            let key = try requireString(name, "metric name")
            let v = try ctx.arena.float(values, "metric '\(key)'")
            ctx.metrics.append((key, v.value.scalars))
        } }
        api.emit_record = { p, record in CallContext.run(p) { ctx in
            guard let r = record?.pointee else { throw HostCallError.invalid("record is NULL") }
            ctx.records.append(try PromptRecord(copying: r))
        } }
    }
}
