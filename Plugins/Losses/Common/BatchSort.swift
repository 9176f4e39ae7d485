import DPOHostSDK

/// Sorts a `[B]` tensor over the batch, ascending (AOT, docs/spec/losses.md §6).
///
/// The host has no sort op, so the permutation is computed here from the read values and
/// applied with one `slice` per element and a `concat`: the indices carry no gradient (as in
/// `torch.sort`), and each sorted value's gradient flows back to the element it came from.
/// Ties keep batch order (torch.sort does not promise one; the values are equal either way).
public enum BatchSort {
    public static func ascending(_ host: Host, _ x: dph_tensor) throws -> dph_tensor {
        let values = try host.floats(x)
        // NaN sorts last, as torch.sort puts it.
        let key = values.map { $0.isNaN ? Float.infinity : $0 }
        let order = values.indices.sorted { (key[$0], $0) < (key[$1], $1) }
        return try host.concat(try order.map { try host.slice(x, axis: 0, $0..<($0 + 1)) }, axis: 0)
    }
}
