/// TRL's conversational preference rows (a `prompt` list of messages with `chosen`/`rejected`
/// lists continuing it, or two whole conversations sharing their first messages), checked
/// message by message so that a bad row is one error naming its line, field and message.
public enum Conversation {
    public static let roles: Set<String> = ["system", "user", "assistant", "tool"]

    /// The messages of `field`, each an object with a known `role` and a string `content`.
    public static func messages(_ row: JSONRow, _ field: String) throws -> [JSONValue] {
        let value = try row.value(field)
        guard case let .array(items) = value else {
            throw row.location.error("type error: `\(field)` is \(value.typeName), a list of messages expected")
        }
        for (k, item) in items.enumerated() {
            guard case let .object(m) = item else {
                throw row.location.error("message \(k) of `\(field)` is \(item.typeName), an object {role, content} expected")
            }
            guard let role = m["role"] else { throw row.location.error("message \(k) of `\(field)` has no `role`") }
            guard case let .string(r) = role, roles.contains(r) else {
                throw row.location.error("message \(k) of `\(field)` has role \(Self.shown(role)), not one of system, user, assistant, tool")
            }
            guard let content = m["content"] else { throw row.location.error("message \(k) of `\(field)` has no `content`") }
            guard case .string = content else {
                throw row.location.error("`content` of message \(k) of `\(field)` must be a string (got \(content.typeName))")
            }
        }
        return items
    }

    /// (prompt, chosen, rejected) of a conversational row: the explicit `prompt` list, or (no
    /// prompt, or a string prompt beside message lists, as UltraFeedback's layout has) the
    /// longest run of whole messages `chosen` and `rejected` start with, as TRL's
    /// `maybe_extract_prompt` takes it.
    public static func split(_ row: JSONRow) throws -> (prompt: [JSONValue], chosen: [JSONValue], rejected: [JSONValue]) {
        _ = try row.value("chosen")
        _ = try row.value("rejected")
        let chosen = try messages(row, "chosen"), rejected = try messages(row, "rejected")
        if case .array? = row.fields["prompt"] {
            let prompt = try messages(row, "prompt")
            guard !prompt.isEmpty else { throw row.location.error("`prompt` is an empty conversation") }
            guard let last = prompt.last, Self.role(last) == "user" || Self.role(last) == "tool" else {
                throw row.location.error("`prompt` ends with the \(prompt.last.map(Self.role) ?? "")'s turn; a prompt ends with the user's (or a tool's) turn")
            }
            for (name, list) in [("chosen", chosen), ("rejected", rejected)] where list.isEmpty {
                throw row.location.error("`\(name)` is an empty conversation")
            }
            return (prompt, chosen, rejected)
        }
        for (name, list) in [("chosen", chosen), ("rejected", rejected)] where list.isEmpty {
            throw row.location.error("`\(name)` is an empty conversation")
        }
        var shared = 0
        while shared < chosen.count, shared < rejected.count, chosen[shared] == rejected[shared] { shared += 1 }
        guard shared > 0 else {
            throw row.location.error("`chosen` and `rejected` share no leading message, so no prompt can be extracted")
        }
        guard shared < chosen.count, shared < rejected.count else {
            throw row.location.error(chosen == rejected ? "`chosen` and `rejected` are the same conversation"
                                     : "one of `chosen` and `rejected` is the other's beginning, so one of them has no answer")
        }
        return (Array(chosen[..<shared]), Array(chosen[shared...]), Array(rejected[shared...]))
    }

    static func role(_ m: JSONValue) -> String {
        if case let .object(o) = m, case let .string(r)? = o["role"] { return r }
        return ""
    }

    static func shown(_ v: JSONValue) -> String {
        if case let .string(s) = v { return "'\(s)'" }
        return v.typeName
    }

    /// The messages as JSON text for the host (DPH_RECORD_MESSAGES): `role` and `content`
    /// first, other keys sorted.
    public static func json(_ messages: [JSONValue]) -> String { serialize(.array(messages)) }

    static func serialize(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .number(n):
            if n.rounded() == n, abs(n) < 9.0e15 { return String(Int(n)) }
            return "\(n)"
        case let .string(s): return quote(s)
        case let .array(items): return "[" + items.map(serialize).joined(separator: ",") + "]"
        case let .object(o):
            let first = ["role", "content"].filter { o[$0] != nil }
            let keys = first + o.keys.filter { !first.contains($0) }.sorted()
            return "{" + keys.map { quote($0) + ":" + serialize(o[$0]!) }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 {
                    let hex = String(ch.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        return out + "\""
    }

    /// TRL's implicit prompt of two strings, at a word boundary: their common beginning cut
    /// back to its last whitespace, so each answer starts with that whitespace (" Red" / " Rose"
    /// after "...Assistant:"). TRL cuts between characters and may split a word ("...R" + "ed").
    public static func splitText(_ row: JSONRow, chosen: String, rejected: String) throws -> (prompt: String, chosen: String, rejected: String) {
        let c = Array(chosen), r = Array(rejected)
        var shared = 0
        while shared < c.count, shared < r.count, c[shared] == r[shared] { shared += 1 }
        while shared > 0, !c[shared - 1].isWhitespace { shared -= 1 }
        while shared > 0, c[shared - 1].isWhitespace { shared -= 1 }
        guard shared > 0 else {
            throw row.location.error("`chosen` and `rejected` share no words at their start, so no prompt can be extracted (give a `prompt` field)")
        }
        return (String(c[..<shared]), String(c[shared...]), String(r[shared...]))
    }
}
