/// Picks the known key closest to a mistyped one (Levenshtein distance over characters): the
/// "did you mean" of configuration keys (dotted paths) and plugin option names.
public enum KeySuggester {
    /// The first candidate at the smallest distance, if that distance is at most
    /// `max(2, key.count / 3)` (close enough to be a typo); nil otherwise.
    public static func nearest(to key: String, among candidates: [String]) -> String? {
        let limit = max(2, key.count / 3)
        var best: (key: String, distance: Int)?
        for candidate in candidates {
            let d = distance(key, candidate)
            if d <= limit, d < (best?.distance ?? .max) { best = (candidate, d) }
        }
        return best?.key
    }

    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1..<(b.count + 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1,
                                 previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
