import Autograd
import TensorCore
import Training

/// The PyTorch script's batch: B pairs of T random tokens sharing a T/2-token prompt, labels -100
/// on the prompt, no padding. Preference losses see `[chosen; rejected]` (2B rows), SFT the B
/// chosen rows.
enum BenchBatch {
    static func make(pairs b: Int, length t: Int, vocab: Int, loss: BenchLoss, seed: UInt64) throws -> StepInput {
        var rng = SplitMix64(seed: seed)
        let prompt = t / 2
        let token = { (rng: inout SplitMix64) in Int32(rng.next() % UInt64(vocab)) }
        var chosen: [[Int32]] = [], rejected: [[Int32]] = []
        for _ in 0..<b {
            let p = (0..<prompt).map { _ in token(&rng) }
            chosen.append(p + (prompt..<t).map { _ in token(&rng) })
            rejected.append(p + (prompt..<t).map { _ in token(&rng) })
        }
        let rows = loss == .sft ? chosen : chosen + rejected
        let ids = rows.flatMap { $0 }
        let labels = rows.flatMap { row in row.enumerated().map { $0.offset < prompt ? Int32(-100) : $0.element } }
        let shape = [rows.count, t]
        return StepInput(ids: try IndexTensor(shape: shape, values: ids),
                         mask: IndexTensor(shape: shape, repeating: 1),
                         labels: try IndexTensor(shape: shape, values: labels))
    }
}
