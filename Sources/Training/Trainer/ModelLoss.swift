import Autograd
import Model
import Objective
import PluginHost
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
    /// Run a preference batch's shared prompt once per pair (`SharedPrompt`) when both models
    /// can: same losses, same gradients up to rounding. False: every row whole, as the reference
    /// implementation does (`share_prompt=false`, `bench step --no-shared-prompt`).
    public var sharesPrompts = true
    /// Under FSDP every rank must run the same passes of the models (each pass gathers their
    /// units collectively), while each rank holds its own slice of the batch: given whether this
    /// rank's slice can share its prompt, returns whether every rank's can. Collective.
    public var ranksAgree: ((Bool) throws -> Bool)?
    /// Called with the shared prompt and the rows' length when a forward ran one (for a log line).
    public var sharedPromptRan: ((SharedPrompt, Int) -> Void)?
    /// Attached to the reference's no-grad tape (the caller attaches it to its own).
    public var profile: OpProfile?

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
                        split: LossMetricSplit, tape: Tape, phase: ((String) -> Void)? = nil) throws -> LossResult {
        // The reference first: a plugin's forward keeps every intermediate of the call alive
        // until it returns, so run after the policy its activations would sit on top of the
        // policy's saved ones at the step's peak. Before it, they are freed (and their buffers
        // reused by the policy forward) and only the reference logits remain.
        // When no loss reads whole logits, the reference's are reduced to label log-probs at once,
        // so its [N, T, V] logits are not alive during the policy's forward and backward.
        // With a shared prompt, the models return the logits of the positions after it, and the
        // losses read those with the matching labels.
        let prompt = chosenOnly ? nil : try sharedPrompt(ids: ids, mask: mask, labels: labels)
        let lossLabels = prompt?.rowPart(labels) ?? labels
        let rows = logitRows(labels: lossLabels)
        var referenceLogits: Variable?, referenceTokens: Variable?
        if cachedReference == nil, let reference {
            let noGrad = Tape(pool: pool, recording: false)
            noGrad.profile = profile
            profile?.restartClock()
            let logits = try forward(reference, ids: ids, mask: mask, labels: labels, prompt: prompt, logitRows: rows, tape: noGrad)
            if loss.needsLogits { referenceLogits = logits } else { referenceTokens = try noGrad.labelLogProbs(logits: logits, labels: lossLabels) }
        }
        phase?("reference forward")
        profile?.restartClock()
        let logits = try forward(policy, ids: ids, mask: mask, labels: labels, prompt: prompt, logitRows: rows, tape: tape)
        phase?("policy forward")
        let batch = try LossBatch(policyLogits: logits, referenceLogits: referenceLogits, labels: lossLabels,
                                  layout: chosenOnly ? .chosenOnly : .preference, referenceTokenLogps: referenceTokens,
                                  referenceSequenceLogps: cachedReference)
        let outcome = try loss.compute(batch, split: split, tape: tape)
        phase?("loss")
        return outcome
    }

    /// The prompt both models may run once per pair, or nil: sharing off, a loss that reads
    /// logits at prompt positions, or activation checkpointing (a shared prompt's blocks could not
    /// be recomputed alone). With `ranksAgree` (FSDP), only when every rank's batch can share.
    func sharedPrompt(ids: IndexTensor, mask: IndexTensor, labels: IndexTensor) throws -> SharedPrompt? {
        guard sharesPrompts, !loss.needsEveryLogitRow, !policy.activationCheckpointing else { return nil }
        let prompt = SharedPrompt(ids: ids, mask: mask, labels: labels)
        guard let ranksAgree else { return prompt }
        return try ranksAgree(prompt != nil) ? prompt : nil
    }

    /// `model`'s logits for `ids`, from position `prompt.length` on when there is a shared prompt.
    /// `logitRows` selects rows of those positions.
    func forward(_ model: LanguageModel, ids: IndexTensor, mask: IndexTensor, labels: IndexTensor, prompt: SharedPrompt?,
                 logitRows: RowSelection?, tape: Tape) throws -> Variable {
        let run = try model.forward(ids: ids, mask: mask, sharing: prompt, logitRows: logitRows,
                                    wholeRowLogitRows: prompt == nil ? logitRows : self.logitRows(labels: labels), tape: tape)
        if run.shared, let prompt { sharedPromptRan?(prompt, ids.shape[1]) }
        return run.logits
    }
}
