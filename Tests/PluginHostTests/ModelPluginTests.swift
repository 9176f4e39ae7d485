import Autograd
import TensorCore
import XCTest
@testable import PluginHost

/// The model path of the ABI, through a tiny C model: a one-layer linear LM
/// (logits = wte[ids] @ lm_head^T) that reads its sizes from a HF config.json.
final class ModelPluginTests: XCTestCase {
    static let source = #"""
    #include <dpohost/plugin.h>
    DPH_PLUGIN_ABI_VERSION_EXPORT
    #define TRY(call) do { dph_status s_ = (call); if (s_ != DPH_OK) return s_; } while (0)

    static dph_status configure(const dph_host_api *host, dph_ctx *ctx, void *state) {
        (void)state;
        int64_t v, e;
        TRY(host->config_int(ctx, "vocab_size", &v));
        if (host->config_int(ctx, "n_embd", &e) != DPH_OK) e = 4; /* HF-style default when absent */
        int64_t shape[2] = {v, e};
        TRY(host->declare_parameter(ctx, "wte.weight", shape, 2, DPH_PARALLEL_NONE));
        TRY(host->declare_parameter(ctx, "lm_head.weight", shape, 2, DPH_PARALLEL_COLUMN));
        return DPH_OK;
    }

    static dph_status forward(const dph_host_api *host, dph_ctx *ctx, void *state, const dph_forward_args *a,
                              dph_tensor *out) {
        (void)state;
        dph_tensor wte, head, x;
        TRY(host->parameter(ctx, "wte.weight", &wte));
        TRY(host->parameter(ctx, "lm_head.weight", &head));
        TRY(host->embedding(ctx, a->input_ids, wte, &x));
        return host->linear(ctx, x, head, 0, DPH_LINEAR_OUT_IN, out);
    }

    #if defined(OLDER_VTABLE_FIELDS)
    /* Built against a header whose vtable ended before the appended fields (0: before
     * block_classes, 1: before position_limit_key, 2: before attends_through_host): the struct
     * really is that short. */
    static const struct {
        uint32_t struct_size;
        const char *block_name;
        dph_status (*configure)(const dph_host_api *, dph_ctx *, void *);
        dph_status (*forward)(const dph_host_api *, dph_ctx *, void *, const dph_forward_args *, dph_tensor *);
        const char *model_types;
    #if OLDER_VTABLE_FIELDS > 0
        const char *block_classes;
    #endif
    #if OLDER_VTABLE_FIELDS > 1
        const char *position_limit_key;
    #endif
    } older = {sizeof(older), "h.{i}", configure, forward, 0
    #if OLDER_VTABLE_FIELDS > 0
        , "Block"
    #endif
    #if OLDER_VTABLE_FIELDS > 1
        , "n_positions"
    #endif
    };
    #define VTABLE ((const dph_model_vtable *)(const void *)&older)
    #else
    #ifndef VTABLE_SIZE
    #define VTABLE_SIZE sizeof(dph_model_vtable)
    #endif
    #ifndef ATTENDS_THROUGH_HOST
    #define ATTENDS_THROUGH_HOST 0
    #endif
    static const dph_model_vtable vtable = {VTABLE_SIZE, "h.{i}", configure, forward, 0, "Block", "n_positions",
                                            ATTENDS_THROUGH_HOST};
    #define VTABLE (&vtable)
    #endif

    DPH_EXPORT dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *d) {
        (void)host; (void)ctx;
        d->struct_size = sizeof(dph_plugin_desc);
        d->abi_version = DPH_ABI_VERSION;
        d->kind = DPH_KIND_MODEL;
        d->name = "tiny_linear";
        d->version = "0.1";
        d->model = VTABLE;
        return DPH_OK;
    }
    """#

    func testAModelVTableFromBeforeTheAppendedFieldsLoadsWithoutThem() throws {
        let dir = try Build.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let current = try ModelPlugin(try PluginLoader.load(path: try Build.plugin(code: Self.source, into: dir, name: "current")))
        XCTAssertEqual(current.blockClasses, ["Block"])
        XCTAssertEqual(current.positionLimitKey, "n_positions")
        XCTAssertFalse(current.packsSharedPrompt)
        let attending = try ModelPlugin(try PluginLoader.load(path: try Build.plugin(
            code: Self.source, into: dir, name: "attending", defines: ["ATTENDS_THROUGH_HOST=1"])))
        XCTAssertTrue(attending.packsSharedPrompt)
        let beforeBoth = try ModelPlugin(try PluginLoader.load(path: try Build.plugin(
            code: Self.source, into: dir, name: "before-classes", defines: ["OLDER_VTABLE_FIELDS=0"])))
        XCTAssertEqual(beforeBoth.blockClasses, [])
        XCTAssertNil(beforeBoth.positionLimitKey)
        let beforeLimit = try ModelPlugin(try PluginLoader.load(path: try Build.plugin(
            code: Self.source, into: dir, name: "before-limit", defines: ["OLDER_VTABLE_FIELDS=1"])))
        XCTAssertEqual(beforeLimit.blockClasses, ["Block"])
        XCTAssertNil(beforeLimit.positionLimitKey)
        let beforeAttends = try ModelPlugin(try PluginLoader.load(path: try Build.plugin(
            code: Self.source, into: dir, name: "before-attends", defines: ["OLDER_VTABLE_FIELDS=2"])))
        XCTAssertEqual(beforeAttends.positionLimitKey, "n_positions")
        XCTAssertFalse(beforeAttends.packsSharedPrompt)
    }

    func testAModelVTableOfAnyOtherSizeIsRefused() throws {
        let dir = try Build.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Build.plugin(code: Self.source, into: dir, name: "odd", defines: ["VTABLE_SIZE=(sizeof(dph_model_vtable)-4)"])
        XCTAssertThrowsPluginError(try PluginLoader.load(path: path), contains: ["model vtable struct_size is"])
    }

    func testAModelPluginDeclaresParametersAndItsForwardIsDifferentiable() throws {
        let dir = try Build.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try ModelPlugin(try PluginLoader.load(path: try Build.plugin(code: Self.source, into: dir, name: "tiny")))
        XCTAssertEqual(model.blockName, "h.{i}")
        let specs = try model.configure(configJSON: #"{"vocab_size": 5, "n_embd": 3, "n_inner": null}"#)
        XCTAssertEqual(specs, [ParameterSpec(name: "wte.weight", shape: [5, 3], parallel: .none),
                               ParameterSpec(name: "lm_head.weight", shape: [5, 3], parallel: .column)])

        let wteValues = (0..<15).map { Float($0) * 0.1 - 0.7 }, headValues = (0..<15).map { Float(($0 * 7) % 11) * 0.05 }
        let wte = Variable(try Tensor(shape: [5, 3], values: wteValues), requiresGrad: true)
        let head = Variable(try Tensor(shape: [5, 3], values: headValues), requiresGrad: true)
        try model.bind(["wte.weight": wte, "lm_head.weight": head])

        let tape = Tape(pool: .serial)
        let ids = try IndexTensor(shape: [1, 3], values: [2, 0, 4])
        let logits = try model.forward(inputIDs: ids, attentionMask: IndexTensor(shape: [1, 3], repeating: 1), tape: tape)
        XCTAssertEqual(logits.shape, [1, 3, 5])
        for (t, id) in ids.values.enumerated() {
            for v in 0..<5 {
                let expected = (0..<3).reduce(Float(0)) { $0 + wteValues[Int(id) * 3 + $1] * headValues[v * 3 + $1] }
                XCTAssertEqual(logits.value[0, t, v], expected, accuracy: 1e-5)
            }
        }
        // Gradients reach the bound parameters through the plugin's ops.
        try tape.backward(try tape.sum(logits))
        let headGrad = try XCTUnwrap(head.grad).scalars
        for v in 0..<5 {
            for k in 0..<3 {
                let expected = ids.values.reduce(Float(0)) { $0 + wteValues[Int($1) * 3 + k] }
                XCTAssertEqual(headGrad[v * 3 + k], expected, accuracy: 1e-5)
            }
        }

        XCTAssertThrowsPluginError(try model.configure(configJSON: #"{"n_embd": 3}"#),
                                   contains: ["failed in configure", "no key 'vocab_size'"])
        XCTAssertThrowsPluginError(try model.configure(configJSON: "not json"), contains: ["not a JSON object"])
    }

    func loadTinyLinear(_ source: String = ModelPluginTests.source, in dir: URL) throws -> ModelPlugin {
        let model = try ModelPlugin(try PluginLoader.load(path: try Build.plugin(code: source, into: dir, name: "tiny")))
        try model.configure(configJSON: #"{"vocab_size": 5, "n_embd": 3}"#)
        let values = (0..<15).map { Float($0) * 0.1 - 0.7 }
        try model.bind(["wte.weight": Variable(try Tensor(shape: [5, 3], values: values)),
                        "lm_head.weight": Variable(try Tensor(shape: [5, 3], values: values.reversed()))])
        return model
    }

    func testAModelThatPassesNoKeysThroughTheCacheCannotShareAPrompt() throws {
        let dir = try Build.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try loadTinyLinear(in: dir)
        let ids = try IndexTensor(shape: [2, 4], values: [1, 2, 3, 4, 1, 2, 0, 4])
        for _ in 0..<2 {
            XCTAssertNil(try model.forwardSharingPrompt(inputIDs: ids, attentionMask: IndexTensor(shape: [2, 4], repeating: 1),
                                                        prompt: 2, promptRows: 1, tape: Tape(pool: .serial)))
        }
        XCTAssertEqual(model.modelState.appendsKeys, false)
        // Nothing of the call stays on the instance: no pass in progress, no keys kept.
        XCTAssertNil(model.modelState.forwardPass)
        XCTAssertTrue(model.modelState.generationCache.layers.isEmpty)
    }

    func testAModelThatKeepsPromptKeysButDoesNotAppendAfterThemFails() throws {
        let dir = try Build.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Appends only in the keys-only forward (the prompt pass), not in the one after it.
        let source = Self.source.replacingOccurrences(of: "TRY(host->embedding(ctx, a->input_ids, wte, &x));", with: """
            TRY(host->embedding(ctx, a->input_ids, wte, &x));
            if (DPH_FORWARD_ARGS_HAVE(a, keys_only) && a->keys_only) {
                dph_tensor k, v;
                TRY(host->kv_cache_append(ctx, 0, x, x, &k, &v));
            }
            """)
        let model = try loadTinyLinear(source, in: dir)
        let ids = try IndexTensor(shape: [2, 4], values: [1, 2, 3, 4, 1, 2, 0, 4])
        XCTAssertThrowsPluginError(try model.forwardSharingPrompt(inputIDs: ids, attentionMask: IndexTensor(shape: [2, 4], repeating: 1),
                                                                   prompt: 2, promptRows: 1, tape: Tape(pool: .serial)) as Any,
                                   contains: ["layers [0] kept keys in the shared-prompt pass but did not append to them after it"])
        // Nothing of the call stays on the instance: no pass in progress, no keys kept.
        XCTAssertNil(model.modelState.forwardPass)
        XCTAssertTrue(model.modelState.generationCache.layers.isEmpty)
    }

    /// The tiny model with `attends_through_host` set and `body` run after its embedding (x is
    /// [N, T, 3]; `x4` its [N, T, 1, 3] view, one head of 3).
    func loadPackedTinyLinear(_ body: String, in dir: URL) throws -> ModelPlugin {
        let source = Self.source.replacingOccurrences(of: "TRY(host->embedding(ctx, a->input_ids, wte, &x));", with: """
            TRY(host->embedding(ctx, a->input_ids, wte, &x));
            int64_t dims[3], shape4[4];
            TRY(host->tensor_shape(ctx, x, dims, 3));
            shape4[0] = dims[0]; shape4[1] = dims[1]; shape4[2] = 1; shape4[3] = 3;
            dph_tensor x4, k, v, attended;
            TRY(host->reshape(ctx, x, shape4, 4, &x4));
            \(body)
            """).replacingOccurrences(of: "#ifndef ATTENDS_THROUGH_HOST", with: "#define ATTENDS_THROUGH_HOST 1\n#ifndef ATTENDS_THROUGH_HOST")
        return try loadTinyLinear(source, in: dir)
    }

    /// A packed forward of the tiny model with `body` (see `loadPackedTinyLinear`) fails with
    /// `message`, and leaves no pass in progress on the instance.
    func assertPackedForwardFails(_ body: String, with message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try Build.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try loadPackedTinyLinear(body, in: dir)
        let ids = try IndexTensor(shape: [2, 4], values: [1, 2, 3, 4, 1, 2, 0, 4])
        XCTAssertThrowsPluginError(try model.forwardSharingPrompt(inputIDs: ids, attentionMask: IndexTensor(shape: [2, 4], repeating: 1),
                                                                   prompt: 2, promptRows: 1, tape: Tape(pool: .serial)) as Any,
                                   contains: [message], file: file, line: line)
        XCTAssertNil(model.modelState.forwardPass, file: file, line: line)
    }

    func testAPackedForwardRefusesAttentionOverKeysThatKVCacheAppendDidNotReturn() throws {
        try assertPackedForwardFails("""
            dph_tensor other;
            TRY(host->kv_cache_append(ctx, 0, x4, x4, &k, &v));
            TRY(host->scale(ctx, k, 2.0f, &other));
            TRY(host->attention(ctx, x4, other, v, a->attention_mask, 0, 0.0f, &attended));
            """, with: "must be given the keys and values kv_cache_append returned")
    }

    func testAPackedForwardFailsWhenALayersKeysNeverReachTheHostsAttention() throws {
        try assertPackedForwardFails("TRY(host->kv_cache_append(ctx, 0, x4, x4, &k, &v)); (void)attended;",
                                     with: "layers [0] appended keys in a packed forward (attends_through_host) but host attention never ran on them")
    }

    func testAPackedForwardGivesTheRowsLogitsAfterTheirPairsPrompt() throws {
        let dir = try Build.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Attention's output is added to x, so every logit depends on the keys before it.
        let model = try loadPackedTinyLinear("""
            TRY(host->kv_cache_append(ctx, 0, x4, x4, &k, &v));
            TRY(host->attention(ctx, x4, k, v, a->attention_mask, 0, 0.0f, &attended));
            TRY(host->reshape(ctx, attended, dims, 3, &attended));
            TRY(host->binary(ctx, DPH_BINARY_ADD, x, attended, &x));
            """, in: dir)
        // Pairs are rows 0/2 and 1/3; pair 0's prompt is left-padded, row 3 right-padded.
        let ids = try IndexTensor(shape: [4, 5], values: [0, 2, 3, 4, 0, 3, 1, 2, 2, 4, 0, 2, 0, 4, 3, 3, 1, 4, 0, 0])
        let mask = try IndexTensor(shape: [4, 5], values: [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0])
        let tape = Tape(pool: .serial, recording: false)
        let whole = try model.forward(inputIDs: ids, attentionMask: mask, tape: tape).value
        let packed = try XCTUnwrap(model.forwardSharingPrompt(inputIDs: ids, attentionMask: mask, prompt: 2, promptRows: 2, tape: tape)).value
        XCTAssertEqual(packed.shape, [4, 3, 5])
        for r in 0..<4 {
            for p in 2..<5 where mask[r, p] == 1 {
                for k in 0..<5 { XCTAssertEqual(packed[r, p - 2, k], whole[r, p, k], accuracy: 1e-5, "row \(r) position \(p)") }
            }
        }
    }

    func testAPackedModelThatAttendsWithoutAppendingKeysRunsWholeRows() throws {
        let dir = try Build.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try loadPackedTinyLinear("""
            (void)k; (void)v;
            TRY(host->attention(ctx, x4, x4, x4, a->attention_mask, 0, 0.0f, &attended));
            """, in: dir)
        let ids = try IndexTensor(shape: [2, 4], values: [1, 2, 3, 4, 1, 2, 0, 4])
        XCTAssertNil(try model.forwardSharingPrompt(inputIDs: ids, attentionMask: IndexTensor(shape: [2, 4], repeating: 1),
                                                    prompt: 2, promptRows: 1, tape: Tape(pool: .serial)))
        XCTAssertEqual(model.modelState.appendsKeys, false)
        XCTAssertNil(model.modelState.forwardPass)
    }
}
