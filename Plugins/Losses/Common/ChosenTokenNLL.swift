import DPOHostSDK

/// The token-mean negative log-likelihood of the policy over the chosen response tokens of the
/// whole batch (TRL's `rpo_alpha` / `sft` term, docs/spec/losses.md §6.1): a scalar, not per sequence.
///
/// TRL <= 0.27 computes it with `ignore_index = 0` on labels whose masked positions were set to
/// 0, so genuine token-id-0 targets drop out too; we count every response token (the mask).
/// With no chosen response tokens at all, torch gives NaN; we divide by 1 and warn.
public enum ChosenTokenNLL {
    public static func compute(_ host: Host, _ inputs: dph_loss_inputs) throws -> dph_tensor {
        let need = "for the token-mean NLL on the chosen responses"
        let tokens = try host.require(inputs.policy_token_logps, "policy_token_logps", for: need)
        let mask = try host.require(inputs.response_mask, "response_mask", for: need)
        // A preference batch's rows are chosen then rejected; an SFT batch's are all chosen.
        let paired = try host.shape(tokens)[0] == 2 * Int(inputs.batch_pairs)
        let chosenTokens = paired ? try host.halves(tokens).chosen : tokens
        let chosenMask = paired ? try host.halves(mask).chosen : mask
        let count = try host.floats(chosenMask).reduce(0, +)
        if count < 1 {
            host.log("the batch has no chosen response tokens; the NLL term is 0 (torch would give NaN)",
                     level: DPH_LOG_WARNING)
        }
        return try host.scale(try host.sum(try host.mul(chosenTokens, chosenMask)), -1 / max(count, 1))
    }
}
