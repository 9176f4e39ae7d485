/// The per-example metric keys of the DPO and TDPO references (docs/spec/losses.md §2.6 and §3.3).
///
/// The ABI does not tell a loss whether it runs for training or evaluation, so keys carry the
/// literal placeholder `{split}`, which the host replaces with `train` or `eval` (see
/// `LossMetricSplit` in the Training module). Names without the placeholder pass through as is.
public enum MetricKey {
    public static let rewardsChosen = "rewards_{split}/chosen"
    public static let rewardsRejected = "rewards_{split}/rejected"
    public static let rewardsAccuracies = "rewards_{split}/accuracies"
    public static let rewardsMargins = "rewards_{split}/margins"
    public static let logpsChosen = "logps_{split}/chosen"
    public static let logpsRejected = "logps_{split}/rejected"
    public static let klChosen = "kl_{split}/chosen"
    public static let klRejected = "kl_{split}/rejected"
    /// Chosen minus rejected sequential KL; singular "margin", as in the TDPO reference.
    public static let klMargin = "kl_{split}/margin"
    public static let loss = "loss/{split}"
    /// RPO's token-mean NLL term (TRL logs it as `nll_loss`), repeated for every example.
    public static let nllLoss = "nll_loss/{split}"
}
