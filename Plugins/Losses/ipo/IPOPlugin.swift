import DPHLossKit
import DPOHostSDK

// `ipo`: (h - 1/(2 beta))^2 on SUMMED log-probs as in the DPO reference (docs/spec/losses.md §2.4);
// length_normalized=true gives TRL's IPO (log-ratios divided by their lengths, rewards summed),
// average_log_prob=true EasyDeL's (every log-prob averaged, rewards too). label_smoothing and
// reference_free do not apply to IPO, so they are not options here.

/// The `ipo` plugin's settings.
final class IPOLoss: RegisteredLoss {
    static let beta = LossOptions.beta(default: nil, help: "IPO regularisation; the target log-ratio margin is 1/(2*beta), > 0")
    static let averageLogProb = LossOptions.averageLogProb(
        help: "length-average log-probs first, rewards too (EasyDeL's IPO); false sums them (DPO reference)")
    static let lengthNormalized = LossOptions.lengthNormalized(
        help: "divide each log-ratio by its response length in the loss only, rewards summed (TRL's IPO)")

    static let plugin = LossDescription(
        name: "ipo",
        summary: "IPO loss (h - 1/(2*beta))^2 on summed log-probs as in the DPO reference; average_log_prob gives TRL's IPO",
        options: [beta, averageLogProb, lengthNormalized] + FDivergence.options)

    let beta: Float
    let averageLogProb: Bool
    let lengthNormalized: Bool
    let divergence: FDivergence

    init(_ host: Host) throws {
        beta = try Self.beta.read(host)
        averageLogProb = try Self.averageLogProb.read(host)
        lengthNormalized = try Self.lengthNormalized.read(host)
        divergence = try FDivergence(host)
        if averageLogProb && lengthNormalized {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "options 'average_log_prob' and 'length_normalized' exclude each other")
        }
    }

    func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let logps = try SequenceLogps(host, inputs, averaged: averageLogProb)
        let h = try divergence.logits(host, logps, lengthNormalized: lengthNormalized, inputs)
        return try PreferenceLoss.reportedMean(host, try PreferenceLoss.ipo(host, logits: h, beta: beta), logps, beta: beta, inputs)
    }
}

@_cdecl("dph_plugin_init")
public func dphPluginInit(_: DPHHostAPI?, _: OpaquePointer?, _ desc: DPHPluginDesc?) -> dph_status {
    LossExport.initialize(desc, as: IPOLoss.self)
}
