import Autograd
import TensorCore
import XCTest
@testable import PluginHost

/// A loss that declares the vocabulary level receives logits and int32 labels, and the host's
/// fused label log-prob op works on them from C (the SFT NLL, docs/spec/losses.md §1).
final class LossLevelTests: XCTestCase {
    static let source = #"""
    #include <dpohost/plugin.h>
    DPH_PLUGIN_ABI_VERSION_EXPORT
    #define TRY(call) do { dph_status s_ = (call); if (s_ != DPH_OK) return s_; } while (0)
    static dph_status compute(const dph_host_api *host, dph_ctx *ctx, void *state, const dph_loss_inputs *in,
                              dph_tensor *out) {
        (void)state;
        if (in->policy_chosen_logps != 0) return host->set_error(ctx, DPH_ERR_PLUGIN, "got an undeclared input");
        dph_tensor lp, per_row, neg;
        TRY(host->label_log_probs(ctx, in->policy_logits, in->labels, &lp));   /* [N, T-1] */
        TRY(host->sum(ctx, lp, -1, 0, &per_row));                                /* [N] */
        TRY(host->emit_metric(ctx, "logps/policy", per_row));
        TRY(host->unary(ctx, DPH_UNARY_NEG, per_row, &neg));
        return host->mean(ctx, neg, DPH_AXIS_ALL, 0, out);
    }
    static const dph_loss_vtable vtable = {sizeof(dph_loss_vtable), DPH_LOSS_NEEDS_LOGITS, compute};
    DPH_EXPORT dph_status dph_plugin_init(const dph_host_api *host, dph_ctx *ctx, dph_plugin_desc *d) {
        (void)host; (void)ctx;
        d->struct_size = sizeof(dph_plugin_desc);
        d->abi_version = DPH_ABI_VERSION;
        d->kind = DPH_KIND_LOSS;
        d->name = "nll";
        d->version = "0.1";
        d->loss = &vtable;
        return DPH_OK;
    }
    """#

    func testAVocabularyLevelLossGetsLogitsAndLabelsAndItsGradient() throws {
        let dir = try Build.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let loss = try LossPlugin(try PluginLoader.load(path: try Build.plugin(code: Self.source, into: dir, name: "nll")))
        XCTAssertEqual(loss.needs, .logits)

        let values: [Float] = (0..<24).map { (i: Int) -> Float in Float((i * 5) % 7) * 0.3 - 0.9 }
        let logits = Variable(try Tensor(shape: [2, 3, 4], values: values), requiresGrad: true)
        let labels = try IndexTensor(shape: [2, 3], values: [-100, 1, 3, -100, -100, 2])
        var inputs = LossInputs(batchPairs: 1)
        inputs.policyLogits = logits
        inputs.labels = labels
        inputs.policyChosenLogps = Variable(Tensor(zeros: [1]))   // not declared: must not reach the plugin
        let tape = Tape(pool: .serial)
        let result = try loss.compute(inputs, tape: tape)
        try tape.backward(result.loss)

        // Independent: row n scores logits[n, t] against labels[n, t+1], skipping -100.
        func logSoftmax(_ n: Int, _ t: Int, _ k: Int) -> Double {
            let row: [Double] = (0..<4).map { (j: Int) -> Double in Double(values[(n * 3 + t) * 4 + j]) }
            let m = row.max()!
            let total: Double = row.map { (x: Double) -> Double in exp(x - m) }.reduce(0, +)
            return row[k] - m - log(total)
        }
        var rows = [0.0, 0.0]
        for n in 0..<2 { for t in 0..<2 where labels[n, t + 1] != -100 { rows[n] += logSoftmax(n, t, Int(labels[n, t + 1])) } }
        let metric = try XCTUnwrap(result.metric("logps/policy"))
        XCTAssertEqual(Double(metric[0]), rows[0], accuracy: 1e-5)
        XCTAssertEqual(Double(metric[1]), rows[1], accuracy: 1e-5)
        XCTAssertEqual(Double(result.loss.value.item), -(rows[0] + rows[1]) / 2, accuracy: 1e-5)
        // d loss / d logits[n,t,k] = -(1[k == y] - softmax_k) / 2 where the label counts, else 0.
        let grad = try XCTUnwrap(logits.grad)
        for n in 0..<2 {
            for t in 0..<3 {
                let y = t < 2 ? Int(labels[n, t + 1]) : -100
                for k in 0..<4 {
                    let indicator: Double = k == y ? 1 : 0
                    let expected: Double = y == -100 ? 0 : -(indicator - exp(logSoftmax(n, t, k))) / 2
                    XCTAssertEqual(Double(grad[n, t, k]), expected, accuracy: 1e-5)
                }
            }
        }
    }
}
