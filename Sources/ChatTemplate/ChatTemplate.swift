import Foundation

/// A model's chat template, rendered as transformers' `apply_chat_template(..., tokenize=False)`
/// renders it: Jinja2 with `trim_blocks` and `lstrip_blocks`, the special tokens passed as
/// variables (`bos_token`, `eos_token`), `messages`, `tools` (None when not given),
/// `add_generation_prompt`, and the helpers `raise_exception` and `strftime_now`.
public struct ChatTemplate: Sendable {
    public let source: String
    private let nodes: [TemplateNode]

    public init(source: String) throws {
        self.source = source
        self.nodes = try TemplateParser.parse(source)
    }

    /// What transformers passes besides the conversation.
    public struct Options: Sendable {
        public var addGenerationPrompt = false
        /// Cut the rendering right after the last message's content, so a model continues it.
        public var continueFinalMessage = false
        public var bosToken: String?
        public var eosToken: String?
        public var tools: TemplateValue?
        /// Further template variables (transformers' `**template_kwargs`, e.g. `enable_thinking`).
        public var variables: [(String, TemplateValue)] = []
        /// What `strftime_now` reads.
        public var now = Date()

        public init(addGenerationPrompt: Bool = false, continueFinalMessage: Bool = false, bosToken: String? = nil,
                    eosToken: String? = nil, tools: TemplateValue? = nil, variables: [(String, TemplateValue)] = [], now: Date = Date()) {
            self.addGenerationPrompt = addGenerationPrompt
            self.continueFinalMessage = continueFinalMessage
            self.bosToken = bosToken
            self.eosToken = eosToken
            self.tools = tools
            self.variables = variables
            self.now = now
        }
    }

    /// The rendered conversation. `messages` is a list of `{role, content, ...}` mappings.
    public func render(messages: TemplateValue, _ options: Options = Options()) throws -> String {
        if case let .list(list) = messages, list.isEmpty {
            throw TemplateError.conversation("Cannot apply chat template to an empty conversation. Provide at least one message.")
        }
        var globals: [String: TemplateValue] = [
            "messages": messages, "tools": options.tools ?? .none, "documents": .none,
            "add_generation_prompt": .bool(options.addGenerationPrompt),
        ]
        if let bos = options.bosToken { globals["bos_token"] = .string(bos) }
        if let eos = options.eosToken { globals["eos_token"] = .string(eos) }
        for (k, v) in options.variables { globals[k] = v }
        let rendered = try TemplateRenderer(globals: globals, now: options.now).render(nodes)
        return options.continueFinalMessage ? try Self.continuing(rendered, messages) : rendered
    }

    /// transformers' `continue_final_message`: the rendering up to the end of the last message's
    /// content (its text stripped when the template stripped it).
    static func continuing(_ rendered: String, _ messages: TemplateValue) throws -> String {
        guard case let .list(list) = messages, case let .dict(last)? = list.last else {
            throw TemplateError.render("continue_final_message needs a final message")
        }
        var final = last["content"] ?? .none
        if case let .list(blocks) = final {
            guard let text = blocks.reversed().compactMap({ b -> TemplateValue? in
                if case let .dict(d) = b { return d["text"] }
                return nil
            }).first else {
                throw TemplateError.render("continue_final_message is set but the final message has no text to continue")
            }
            final = text
        }
        // As transformers: find the stripped content last in the rendering; keep the content's
        // trailing whitespace only when the template kept it too (Python indexes code points).
        let message = Array(final.text.unicodeScalars)
        let stripped = Array(TemplateBuiltins.pythonStrip(final.text, nil, left: true, right: true).unicodeScalars)
        let lstrippedCount = TemplateBuiltins.pythonStrip(final.text, nil, left: true, right: false).unicodeScalars.count
        let r = Array(rendered.unicodeScalars)
        guard let at = lastIndex(of: stripped, in: r) else {
            throw TemplateError.render("continue_final_message is set but the final message does not appear in the rendering")
        }
        let keepsSpacing = at + lstrippedCount <= r.count && Array(r[at..<(at + lstrippedCount)]) == message
        let end = at + (keepsSpacing ? lstrippedCount : stripped.count)
        return String(String.UnicodeScalarView(r[..<min(end, r.count)]))
    }

    static func lastIndex(of needle: [Unicode.Scalar], in haystack: [Unicode.Scalar]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        var k = haystack.count - needle.count
        while k >= 0 {
            if Array(haystack[k..<(k + needle.count)]) == needle { return k }
            k -= 1
        }
        return nil
    }
}
