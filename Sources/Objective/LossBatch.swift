import Autograd
import TensorCore

/// How the rows of a loss batch are laid out (docs/spec/losses.md §0.1 and §1).
public enum LossBatchLayout: Sendable {
    /// 2B rows from one forward pass of the concatenated batch: 0..<B chosen, B..<2B rejected.
    case preference
    /// B rows, all chosen (SFT runs only the targets; no rejected rows and no reference).
    case chosenOnly
}

/// What the models produced for one batch: everything a loss plugin's inputs are made from.
/// Independent of how the models were run, so any trainer can build one.
public struct LossBatch {
    /// `[N, T, V]`, on the caller's tape (carries the gradient).
    public let policyLogits: Variable
    /// `[N, T, V]` of the frozen reference, or nil when none was run. Never differentiated.
    public let referenceLogits: Variable?
    /// `[N, T - 1]` label log-probs of the frozen reference, when they were taken from its logits
    /// right after its forward (the logits then need not stay alive); nil: from `referenceLogits`.
    public let referenceTokenLogps: Variable?
    /// `[N, T]`; -100 marks prompt and padding positions.
    public let labels: IndexTensor
    public let layout: LossBatchLayout
    /// Cached per-sequence reference log-probs `(chosen [B], rejected [B])` (summed), used
    /// instead of running the reference (`precompute_ref_log_probs`); nil = none.
    public let referenceSequenceLogps: (chosen: [Float], rejected: [Float])?

    public init(policyLogits: Variable, referenceLogits: Variable?, labels: IndexTensor, layout: LossBatchLayout,
                referenceTokenLogps: Variable? = nil,
                referenceSequenceLogps: (chosen: [Float], rejected: [Float])? = nil) throws {
        let s = policyLogits.shape
        guard s.count == 3, labels.shape == [s[0], s[1]], s[1] >= 2 else {
            throw LossComputationError.shape("policy logits \(s) and labels \(labels.shape) must be [N, T, V] and [N, T] with T >= 2")
        }
        if let r = referenceLogits, r.shape != s {
            throw LossComputationError.shape("reference logits \(r.shape) differ from policy logits \(s)")
        }
        if let r = referenceTokenLogps, r.shape != [s[0], s[1] - 1] {
            throw LossComputationError.shape("reference label log-probs \(r.shape) for logits \(s): expected [\(s[0]), \(s[1] - 1)]")
        }
        if layout == .preference, s[0] % 2 != 0 {
            throw LossComputationError.shape("a preference batch has 2B rows (chosen, then rejected); got \(s[0])")
        }
        self.policyLogits = policyLogits
        self.referenceLogits = referenceLogits
        self.referenceTokenLogps = referenceTokenLogps
        self.labels = labels
        self.layout = layout
        if let cached = referenceSequenceLogps {
            let b = layout == .preference ? s[0] / 2 : s[0]
            guard cached.chosen.count == b, cached.rejected.count == b else {
                throw LossComputationError.shape("cached reference log-probs for \(cached.chosen.count) pairs, batch has \(b)")
            }
        }
        self.referenceSequenceLogps = referenceSequenceLogps
    }

    public var rows: Int { labels.shape[0] }
    /// B: pairs in a preference batch, sequences in a chosen-only one.
    public var pairs: Int { layout == .preference ? rows / 2 : rows }

    /// `[N, T-1]`: 1 where the shifted label counts (`labels[n, t+1] != -100`), else 0.
    public func responseMask() -> Tensor {
        let t = labels.shape[1]
        let mask = Tensor(zeros: [rows, t - 1])
        let p = mask.pointer
        for n in 0..<rows {
            for j in 1..<t where labels.values[n * t + j] != LossBatch.ignoreIndex { p[n * (t - 1) + j - 1] = 1 }
        }
        return mask
    }

    /// Response tokens per row (the counted labels), as float.
    public func responseLengths() -> [Float] {
        let t = labels.shape[1]
        return (0..<rows).map { n in Float((1..<t).filter { labels.values[n * t + $0] != LossBatch.ignoreIndex }.count) }
    }

    public static let ignoreIndex: Int32 = -100
}

public enum LossComputationError: Error, CustomStringConvertible {
    case shape(String)

    public var description: String {
        switch self {
        case let .shape(m): return "loss batch: \(m)"
        }
    }
}
