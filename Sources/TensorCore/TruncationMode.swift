/// How a too-long prompt is cut: keep its first tokens, or its last (HH). A dataset plugin
/// declares one (PluginHost reads it from the dataset vtable) and the data pipeline applies it;
/// it lives here, the lowest module both depend on.
public enum TruncationMode: String, Sendable, Equatable {
    case keepStart = "keep_start"
    case keepEnd = "keep_end"
}
