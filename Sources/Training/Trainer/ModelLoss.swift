import Autograd
import TensorCore

/// The loss of one batch from the models: the frozen reference forward on a no-grad tape (skipped
/// when cached sequence log-probs are given), the policy forward (on the caller's tape), and
/// the loss plugins. Shared by the trainers and `dpohost bench step`, so the benchmark times the
/// trainer's own step.
public struct ModelLoss {
    public let policy: LanguageModel
    public let reference: LanguageModel?
    public let loss: CombinedLoss
    public let pool: WorkerPool

    public init(policy: LanguageModel, reference: LanguageModel?, loss: CombinedLoss, pool: WorkerPool) {
        self.policy = policy
        self.reference = reference
        self.loss = loss
        self.pool = pool
    }

    /// `ids`/`mask`/`labels` `[N, T]`: 2B concatenated rows, or B rows when `chosenOnly` (SFT).
    /// `phase` is called after each part ("reference forward", "policy forward", "loss").
    public func compute(ids: IndexTensor, mask: IndexTensor, labels: IndexTensor, chosenOnly: Bool,
                        cachedReference: (chosen: [Float], rejected: [Float])? = nil,
                        split: LossMetricSplit, tape: Tape, phase: ((String) -> Void)? = nil) throws -> LossOutcome {
        // The reference first: a plugin's forward keeps every intermediate of the call alive
        // until it returns, so run after the policy its activations would sit on top of the
        // policy's saved ones at the step's peak. Before it, they are freed (and their buffers
        // reused by the policy forward) and only the reference logits remain.
        let referenceLogits = cachedReference != nil ? nil
            : try reference.map { try $0.forward(ids: ids, mask: mask, tape: Tape(pool: pool, recording: false)) }
        phase?("reference forward")
        let logits = try policy.forward(ids: ids, mask: mask, tape: tape)
        phase?("policy forward")
        let batch = try LossBatch(policyLogits: logits, referenceLogits: referenceLogits, labels: labels,
                                  layout: chosenOnly ? .chosenOnly : .preference, referenceSequenceLogps: cachedReference)
        let outcome = try loss.compute(batch, split: split, tape: tape)
        phase?("loss")
        return outcome
    }
}
