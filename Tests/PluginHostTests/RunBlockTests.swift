import Autograd
import CDPOHostSDK
import Foundation
import TensorCore
import XCTest
@testable import PluginHost

/// `run_block` at the C ABI: a tiny C model with two residual blocks (x + silu(x W_l^T)) run
/// through host->run_block, counting the calls of its block function and the contexts they get.
final class RunBlockTests: XCTestCase {
    static let source = #"""
    #include <dpohost/plugin.h>
    #include <stdio.h>
    DPH_PLUGIN_ABI_VERSION_EXPORT
    #define TRY(call) do { dph_status s_ = (call); if (s_ != DPH_OK) return s_; } while (0)

    static int block_calls, blocks_in_forward_ctx, wrong_user;
    static dph_ctx *forward_ctx;
    static int user_data; /* static: must outlive backward */
    DPH_EXPORT int test_block_calls(void) { return block_calls; }
    DPH_EXPORT int test_blocks_in_forward_ctx(void) { return blocks_in_forward_ctx; }
    DPH_EXPORT int test_wrong_user(void) { return wrong_user; }

    static dph_status configure(const dph_host_api *host, dph_ctx *ctx, void *state) {
        (void)state;
        int64_t v, e, n;
        TRY(host->config_int(ctx, "vocab_size", &v));
        TRY(host->config_int(ctx, "n_embd", &e));
        TRY(host->config_int(ctx, "n_layer", &n));
        int64_t table[2] = {v, e}, square[2] = {e, e};
        TRY(host->declare_parameter(ctx, "wte.weight", table, 2, DPH_PARALLEL_NONE));
        for (int64_t l = 0; l < n; l++) {
            char name[32];
            snprintf(name, sizeof name, "h.%d.weight", (int)l);
            TRY(host->declare_parameter(ctx, name, square, 2, DPH_PARALLEL_NONE));
        }
        return DPH_OK;
    }

    static dph_status block(const dph_host_api *host, dph_ctx *ctx, void *user, int32_t layer,
                            const dph_tensor *in, int32_t n, dph_tensor *out) {
        block_calls++;
        if (ctx == forward_ctx) blocks_in_forward_ctx++;
        if (user != &user_data || n != 2) wrong_user++;
        char name[32];
        snprintf(name, sizeof name, "h.%d.weight", (int)layer);
        dph_tensor w, y, a;
        TRY(host->parameter(ctx, name, &w));
        TRY(host->linear(ctx, in[0], w, 0, DPH_LINEAR_OUT_IN, &y));
        TRY(host->unary(ctx, DPH_UNARY_SILU, y, &a));
        return host->binary(ctx, DPH_BINARY_ADD, in[0], a, out);
    }

    static dph_status forward(const dph_host_api *host, dph_ctx *ctx, void *state, const dph_forward_args *args,
                              dph_tensor *out) {
        (void)state;
        int64_t layers;
        dph_tensor wte, x;
        forward_ctx = ctx;
        TRY(host->config_int(ctx, "n_layer", &layers));
        TRY(host->parameter(ctx, "wte.weight", &wte));
        TRY(host->embedding(ctx, args->input_ids, wte, &x));
        for (int32_t l = 0; l < layers; l++) {
            dph_tensor inputs[2] = {x, args->attention_mask};
            if (DPH_HOST_HAS(host, run_block)) TRY(host->run_block(ctx, l, block, &user_data, inputs, 2, &x));
            else TRY(block(host, ctx, &user_data, l, inputs, 2, &x));
        }
        return host->linear(ctx, x, wte, 0, DPH_LINEAR_OUT_IN, out);
    }

    static const dph_model_vtable vtable = {sizeof(dph_model_vtable), "h.{i}", configure, forward};

    DPH_EXPORT dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *d) {
        (void)host; (void)ctx;
        d->struct_size = sizeof(dph_plugin_desc);
        d->abi_version = DPH_ABI_VERSION;
        d->kind = DPH_KIND_MODEL;
        d->name = "tiny_blocks";
        d->version = "0.1";
        d->model = &vtable;
        return DPH_OK;
    }
    """#

    /// The model, its parameters (2 blocks of 3x3) and a function reading the plugin's counters.
    struct Fixture {
        let model: ModelPlugin
        let parameters: [String: Variable]
        let counter: (String) -> Int32

        func forward(_ tape: Tape) throws -> Variable {
            try model.forward(inputIDs: IndexTensor(shape: [2, 3], values: [2, 0, 4, 1, 3, 3]),
                              attentionMask: IndexTensor(shape: [2, 3], repeating: 1), tape: tape)
        }
    }

    func fixture() throws -> Fixture {
        let dir = try Build.tempDir()
        let path = try Build.plugin(code: Self.source, into: dir, name: "blocks-\(UUID().uuidString)")
        let model = try ModelPlugin(try PluginLoader.load(path: path))
        try model.configure(configJSON: #"{"vocab_size": 5, "n_embd": 3, "n_layer": 2}"#)
        var parameters: [String: Variable] = [:]
        for (i, spec) in model.parameterSpecs.enumerated() {
            let n = spec.shape.reduce(1, *)
            parameters[spec.name] = Variable(try Tensor(shape: spec.shape, values: (0..<n).map { Float(($0 * 7 + i * 3) % 11) * 0.1 - 0.5 }),
                                             requiresGrad: true)
        }
        try model.bind(parameters)
        let handle = dlopen(path, RTLD_NOW)!
        return Fixture(model: model, parameters: parameters) { name in
            unsafeBitCast(dlsym(handle, name)!, to: (@convention(c) () -> Int32).self)()
        }
    }

    /// Appended functions keep the older ones where they were: token_kl, then run_block, then
    /// lm_head, then declare_parameter_alias last, and the host's struct_size covers them all.
    func testHostTableHasRunBlockAndLMHeadAppendedAtTheEnd() {
        let pointer = MemoryLayout<UnsafeRawPointer>.size
        XCTAssertEqual(MemoryLayout<dph_host_api>.offset(of: \dph_host_api.run_block)!,
                       MemoryLayout<dph_host_api>.offset(of: \dph_host_api.token_kl)! + pointer)
        XCTAssertEqual(MemoryLayout<dph_host_api>.offset(of: \dph_host_api.lm_head)!,
                       MemoryLayout<dph_host_api>.offset(of: \dph_host_api.run_block)! + pointer)
        XCTAssertEqual(MemoryLayout<dph_host_api>.offset(of: \dph_host_api.declare_parameter_alias)!,
                       MemoryLayout<dph_host_api>.offset(of: \dph_host_api.lm_head)! + pointer)
        XCTAssertEqual(MemoryLayout<dph_host_api>.offset(of: \dph_host_api.declare_parameter_alias)! + pointer,
                       Int(HostAPI.table.pointee.struct_size))
        XCTAssertNotNil(HostAPI.table.pointee.run_block)
        XCTAssertNotNil(HostAPI.table.pointee.lm_head)
        XCTAssertNotNil(HostAPI.table.pointee.declare_parameter_alias)
    }

    func testRunBlockOnANonRecordingTapeJustCallsTheBlockInTheCallersContext() throws {
        let f = try fixture()
        let plain = try f.forward(Tape(pool: .serial, recording: false)).value.scalars
        XCTAssertEqual(f.counter("test_block_calls"), 2)
        f.model.activationCheckpointing = true
        let tape = Tape(pool: .serial, recording: false)
        let logits = try f.forward(tape)
        XCTAssertEqual(f.counter("test_block_calls"), 4, "one call per block, no recomputation")
        XCTAssertEqual(f.counter("test_blocks_in_forward_ctx"), 4, "fn runs in the forward's own context")
        XCTAssertEqual(f.counter("test_wrong_user"), 0, "fn gets the caller's user pointer and inputs")
        XCTAssertEqual(tape.recordedOps, 0)
        XCTAssertEqual(logits.value.scalars, plain)
    }

    func testCheckpointedBlocksRunAgainInBackwardWithIdenticalGradients() throws {
        let f = try fixture()
        let plainTape = Tape(pool: .serial)
        let plainLogits = try f.forward(plainTape)
        let plainOps = plainTape.recordedOps
        try plainTape.backward(try plainTape.sum(plainTape.square(plainLogits)))
        let plainGrads = f.parameters.mapValues { $0.grad!.scalars }
        for p in f.parameters.values { p.setGrad(nil) }
        XCTAssertEqual(f.counter("test_block_calls"), 2)

        f.model.activationCheckpointing = true
        let tape = Tape(pool: .serial)
        let logits = try f.forward(tape)
        XCTAssertEqual(f.counter("test_block_calls"), 4)
        XCTAssertEqual(f.counter("test_blocks_in_forward_ctx"), 2, "checkpointed blocks run in contexts of their own")
        // embedding + one node per block + head, instead of linear, silu and add per block.
        XCTAssertEqual(tape.recordedOps, 4)
        XCTAssertEqual(plainOps, 8)
        XCTAssertEqual(logits.value.scalars, plainLogits.value.scalars)
        try tape.backward(try tape.sum(tape.square(logits)))
        XCTAssertEqual(f.counter("test_block_calls"), 6, "each block recomputed once during backward")
        XCTAssertEqual(f.counter("test_wrong_user"), 0)
        for (name, p) in f.parameters { XCTAssertEqual(p.grad?.scalars, plainGrads[name], name) }
    }

    func testAFailingCheckpointedBlockReportsThePluginsMessage() throws {
        let f = try fixture()
        f.model.activationCheckpointing = true
        // Unbound parameter: the block's host->parameter fails inside the checkpointed run.
        f.model.modelState.parameters["h.1.weight"] = nil
        XCTAssertThrowsPluginError(try f.forward(Tape(pool: .serial)), contains: ["h.1.weight"])
    }
}
