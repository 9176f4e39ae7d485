import Autograd
import Foundation
import Objective
import PluginHost
import TensorCore
import TestSupport
import Training
import XCTest

/// Which positions the model's head projects, seen from a loss plugin written in C: a loss that
/// reads logits anywhere gets every position, one that declares DPH_LOSS_LOGITS_SCORED_ONLY gets
/// 0 at positions whose label does not count (here the prompt's first position).
final class LogitRowsTests: XCTestCase {
    static let source = #"""
    #include <dpohost/plugin.h>
    DPH_PLUGIN_ABI_VERSION_EXPORT
    #define TRY(call) do { dph_status s_ = (call); if (s_ != DPH_OK) return s_; } while (0)
    static dph_status compute(const dph_host_api *host, dph_ctx *ctx, void *state, const dph_loss_inputs *in,
                              dph_tensor *out) {
        (void)state;
        dph_tensor lp, first, per_pos, per_row, neg;
        TRY(host->slice(ctx, in->policy_logits, 1, 0, 1, &first));            /* [N, 1, V] */
        TRY(host->sum(ctx, first, -1, 0, &per_pos));
        TRY(host->sum(ctx, per_pos, -1, 0, &per_row));                        /* [N] */
        TRY(host->emit_metric(ctx, "first_position_logits", per_row));
        TRY(host->label_log_probs(ctx, in->policy_logits, in->labels, &lp));
        TRY(host->unary(ctx, DPH_UNARY_NEG, lp, &neg));
        return host->mean(ctx, neg, DPH_AXIS_ALL, 0, out);
    }
    #ifdef SCORED_ONLY
    static const dph_loss_vtable vtable = {sizeof(dph_loss_vtable), DPH_LOSS_NEEDS_LOGITS | DPH_LOSS_LOGITS_SCORED_ONLY, compute};
    #else
    static const dph_loss_vtable vtable = {sizeof(dph_loss_vtable), DPH_LOSS_NEEDS_LOGITS, compute};
    #endif
    DPH_EXPORT dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *d) {
        (void)host; (void)ctx;
        d->struct_size = sizeof(dph_plugin_desc);
        d->abi_version = DPH_ABI_VERSION;
        d->kind = DPH_KIND_LOSS;
        d->name = "first_logits";
        d->version = "0.1";
        d->loss = &vtable;
        return DPH_OK;
    }
    """#

    func firstPositionLogits(scoredOnly: Bool) throws -> [Float] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dph-logit-rows-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("first_logits.c"), library = dir.appendingPathComponent("first_logits.so")
        try Self.source.write(to: source, atomically: true, encoding: .utf8)
        let cc = try CPlugin.compile(source, to: library.path, defines: scoredOnly ? ["SCORED_ONLY"] : [])
        XCTAssertEqual(cc.status, 0, "cc failed: \(cc.stderr)")

        let plugin = try LossPlugin(try PluginLoader.load(path: library.path))
        let g = try LossVariant.dpo.file()
        let models = try PreferenceModels()
        var modelLoss = ModelLoss(policy: models.policy, reference: nil,
                                  loss: CombinedLoss([WeightedLoss(name: "loss", computation: LossComputation(plugin: plugin))]),
                                  pool: models.pool)
        // Whole rows: with a shared prompt the losses would see only the positions after it.
        modelLoss.sharesPrompts = false
        let labels = try g.indexTensor(named: "concatenated_labels")
        XCTAssertEqual(labels.values[1], -100, "the golden batch's first label is part of the prompt")
        let outcome = try modelLoss.compute(ids: try g.indexTensor(named: "concatenated_input_ids"),
                                            mask: try g.indexTensor(named: "concatenated_attention_mask"), labels: labels,
                                            chosenOnly: false, split: .train, tape: Tape(pool: models.pool))
        return try XCTUnwrap(outcome.metric("first_position_logits"))
    }

    func testALossReadingLogitsAnywhereGetsEveryPositionProjected() throws {
        XCTAssertTrue(try firstPositionLogits(scoredOnly: false).allSatisfy { $0 != 0 })
    }

    func testALossReadingOnlyScoredLogitsGetsZerosAtPromptPositions() throws {
        XCTAssertTrue(try firstPositionLogits(scoredOnly: true).allSatisfy { $0 == 0 })
    }
}
