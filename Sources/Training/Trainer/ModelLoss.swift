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
    /// Project to the vocabulary only at positions whose label counts, when no loss reads logits
    /// elsewhere (the other rows are 0 and never read). False: every position, as the reference
    /// implementation does (same losses and gradients; `bench step --all-logit-rows`).
    public var selectsLogitRows = true

    public init(policy: LanguageModel, reference: LanguageModel?, loss: CombinedLoss, pool: WorkerPool) {
        self.policy = policy
        self.reference = reference
        self.loss = loss
        self.pool = pool
    }

    /// The positions of `labels [N, T]` whose logits the losses read: those that score a
    /// counted label (logits t score label t+1), or nil for all when some loss reads others.
    public func logitRows(labels: IndexTensor) -> RowSelection? {
        guard selectsLogitRows, !loss.needsEveryLogitRow else { return nil }
        return ModelLoss.scoredRows(labels: labels)
    }

    /// The positions of `labels [N, T]` that score a counted label (logits t score label t+1):
    /// all that label log-probs read.
    public static func scoredRows(labels: IndexTensor) -> RowSelection? {
        guard labels.shape.count == 2 else { return nil }
        let t = labels.shape[1]
        let values = labels.values
        return RowSelection(rows: labels.shape[0] * t) { row in
            row % t + 1 < t && values[row + 1] != LossBatch.ignoreIndex
        }
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
        // When no loss reads whole logits, the reference's are reduced to label log-probs at once,
        // so its [N, T, V] logits are not alive during the policy's forward and backward.
        let rows = logitRows(labels: labels)
        var referenceLogits: Variable?, referenceTokens: Variable?
        if cachedReference == nil, let reference {
            let noGrad = Tape(pool: pool, recording: false)
            let logits = try reference.forward(ids: ids, mask: mask, logitRows: rows, tape: noGrad)
            if loss.needsLogits { referenceLogits = logits } else { referenceTokens = try noGrad.labelLogProbs(logits: logits, labels: labels) }
        }
        phase?("reference forward")
        let logits = try policy.forward(ids: ids, mask: mask, logitRows: rows, tape: tape)
        phase?("policy forward")
        let batch = try LossBatch(policyLogits: logits, referenceLogits: referenceLogits, labels: labels,
                                  layout: chosenOnly ? .chosenOnly : .preference, referenceTokenLogps: referenceTokens,
                                  referenceSequenceLogps: cachedReference)
        let outcome = try loss.compute(batch, split: split, tape: tape)
        phase?("loss")
        return outcome
    }
}
