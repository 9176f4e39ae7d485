import Autograd
import TensorCore

/// A preference batch's shared prompts and its rows as one sequence of a batch of one: every
/// row's own positions (row after row), then each pair's prompt. A model whose positions meet
/// only in the host's attention (`attends_through_host`) runs it in one forward, so each linear
/// is one product over prompts and rows together and reads its weight once per pass, where a
/// prompt's forward of its own reads every weight a second time (docs/performance.md).
///
/// The plugin sees plain tensors (`input_ids` `[1, S]`); the host takes the packing apart where
/// positions meet: `attention` splits the sequence into the prompts, which attend to themselves,
/// and the rows, which attend to their pair's prompt keys and then their own (the keys of
/// `Tape.prefixed`, as after a prompt's own pass); `lm_head` computes only the rows' positions,
/// `[rows, rest, V]`, the logits the caller reads.
final class PackedPrompt {
    /// Rows of the batch (chosen then rejected), pairs (prompts), and the positions of each.
    let rows: Int, pairs: Int, prompt: Int, rest: Int
    /// The packed sequence the plugin runs, `[1, S]` for S = rows·rest + pairs·prompt.
    let inputIDs: IndexTensor, attentionMask: IndexTensor, positionIDs: IndexTensor
    /// What each part's keys may see: a row's are its pair's prompt and its own (`[rows, T]`),
    /// a prompt's its own (`[pairs, prompt]`).
    private let rowKeyMask: IndexTensor, promptKeyMask: IndexTensor
    /// By the keys `kv_cache_append` returned: their layer and the values returned with them;
    /// and the layers whose attention has run on them.
    private var appended: [ObjectIdentifier: (layer: Int32, value: ObjectIdentifier)] = [:]
    private(set) var attended: Set<Int32> = []
    /// Set when attention ran before any layer appended keys: the plugin does not pass its keys
    /// through `kv_cache_append`, so the packing cannot be taken apart (whole rows run instead).
    private(set) var attendedWithoutKeys = false

    /// `ids` and `mask` `[N, T]` whose first `prompt` positions are the same in rows r and
    /// r + `promptRows` (N = 2·promptRows).
    init(ids: IndexTensor, mask: IndexTensor, prompt: Int, promptRows: Int) throws {
        let (n, t) = (ids.shape[0], ids.shape[1])
        (rows, pairs, self.prompt, rest) = (n, promptRows, prompt, t - prompt)
        let rowPart = 0..<n, promptPart = 0..<promptRows
        func packed(_ x: IndexTensor) throws -> IndexTensor {
            let own = x.columns(prompt..<t).values, shared = x.rows(promptPart).columns(0..<prompt).values
            return try IndexTensor(shape: [1, own.count + shared.count], values: own + shared)
        }
        inputIDs = try packed(ids)
        attentionMask = try packed(mask)
        let positions = rowPart.flatMap { _ in (prompt..<t).map(Int32.init) } + promptPart.flatMap { _ in (0..<prompt).map(Int32.init) }
        positionIDs = try IndexTensor(shape: [1, positions.count], values: positions)
        rowKeyMask = mask
        promptKeyMask = mask.rows(promptPart).columns(0..<prompt)
    }

    /// Positions of the packed sequence that are rows' own (they come first).
    private var rowPositions: Int { rows * rest }
    private var length: Int { rowPositions + pairs * prompt }

    /// `kv_cache_append` of `layer`: the keys and values pass through, and are remembered so that
    /// the attention over them can be checked to be the host's.
    func append(layer: Int32, key: Variable, value: Variable) throws -> (key: Variable, value: Variable) {
        guard !appended.values.contains(where: { $0.layer == layer }) else {
            throw HostCallError.invalid("kv_cache_append: layer \(layer) appended twice in one forward")
        }
        appended[ObjectIdentifier(key)] = (layer, ObjectIdentifier(value))
        return (key, value)
    }

    /// Causal attention over the packed sequence: q `[1, S, Hq, d]`, k and v `[1, S, Hkv, d]`, the
    /// keys and values `kv_cache_append` returned. The prompts attend to themselves; each row
    /// to its pair's prompt and then to its own positions; both parts go back in their places.
    func attention(query: Variable, key: Variable, value: Variable, scale: Float?, tape: Tape) throws -> Variable {
        guard !appended.isEmpty else {
            attendedWithoutKeys = true
            throw HostCallError.invalid("attention in a packed forward before any kv_cache_append")
        }
        guard let (layer, values) = appended[ObjectIdentifier(key)], values == ObjectIdentifier(value) else {
            throw HostCallError.invalid("attention in a packed forward (attends_through_host) must be given the keys and values kv_cache_append returned")
        }
        let (q, k) = (query.shape, key.shape)
        guard q.count == 4, k.count == 4, q[0] == 1, q[1] == length, k[0] == 1, k[1] == length, value.shape == k else {
            throw HostCallError.invalid("attention in a packed forward: query \(q), key \(k), value \(value.shape); expected [1, \(length), heads, head_dim]")
        }
        attended.insert(layer)
        let own = 0..<rowPositions, shared = rowPositions..<length
        func part(_ x: Variable, _ range: Range<Int>, rows: Int) throws -> Variable {
            try tape.reshape(tape.slice(x, axis: 1, range: range), [rows, range.count / rows] + x.shape.dropFirst(2))
        }
        let promptKey = try part(key, shared, rows: pairs), promptValue = try part(value, shared, rows: pairs)
        let rowsOut = try tape.attention(query: part(query, own, rows: rows),
                                         key: tape.prefixed(part(key, own, rows: rows), with: promptKey),
                                         value: tape.prefixed(part(value, own, rows: rows), with: promptValue),
                                         keyMask: rowKeyMask, scale: scale)
        let promptsOut = try tape.attention(query: part(query, shared, rows: pairs), key: promptKey, value: promptValue,
                                            keyMask: promptKeyMask, scale: scale)
        let flat = { (x: Variable) in try tape.reshape(x, [1, x.shape[0] * x.shape[1]] + x.shape.dropFirst(2)) }
        return try tape.concat([flat(rowsOut), flat(promptsOut)], axis: 1)
    }

    /// `lm_head`'s input: the rows' positions of x `[1, S, H]`, as `[rows, rest, H]` (no logit of
    /// a prompt position is read).
    func headInput(_ x: Variable, tape: Tape) throws -> Variable {
        guard x.shape.count == 3, x.shape[0] == 1, x.shape[1] == length else {
            throw HostCallError.invalid("lm_head in a packed forward: input \(x.shape); expected [1, \(length), hidden]")
        }
        return try tape.reshape(tape.slice(x, axis: 1, range: 0..<rowPositions), [rows, rest, x.shape[2]])
    }

    /// The logits of the rows' positions, `[rows, rest, V]`, from what the plugin returned:
    /// `lm_head`'s output, or (a plugin that projects with `linear`) the whole sequence's.
    func rowLogits(_ logits: Variable, tape: Tape) throws -> Variable {
        let s = logits.shape
        if s.count == 3, s[0] == rows, s[1] == rest { return logits }
        guard s.count == 3, s[0] == 1, s[1] == length else {
            throw HostCallError.invalid("a packed forward returned logits \(s); expected [\(rows), \(rest), vocab] from lm_head")
        }
        return try tape.reshape(tape.slice(logits, axis: 1, range: 0..<rowPositions), [rows, rest, s[2]])
    }

    /// Layers that appended keys but whose attention did not run on them (empty when all did).
    var unattended: [Int32] { Set(appended.values.map(\.layer)).subtracting(attended).sorted() }
    /// Whether the plugin passed no keys through `kv_cache_append` (it attended to others, or
    /// never attended): it cannot share a prompt.
    var appendedNone: Bool { appended.isEmpty }
}
