import ChatTemplate

/// Renders conversational rows (`RowText.messages`) with the model's chat template as TRL 1.16
/// does before tokenizing: the prompt messages with the generation prompt, and each response
/// (and the SFT target) as the whole conversation it ends, prompt messages then its own. The
/// tokenizer later splits prompt from response where their tokens stop agreeing
/// (`ElementTokenizer`), so the prompt is masked exactly where TRL masks it.
public struct ConversationRenderer {
    public let template: ChatTemplate
    public let bosToken: String?
    public let eosToken: String?

    public init(template: ChatTemplate, bosToken: String?, eosToken: String?) {
        self.template = template
        self.bosToken = bosToken
        self.eosToken = eosToken
    }

    /// Every conversational row rendered; plain rows unchanged.
    public func render(_ prompts: [FlatPrompt]) throws -> [FlatPrompt] {
        try prompts.map { item in
            guard item.text == .messages else { return item }
            let prompt = try messages(item.prompt, item)
            let whole = { (json: String) in try self.text(.list(prompt + (try self.messages(json, item))), generation: false, item) }
            return item.replacing(record: PromptRecord(prompt: try text(.list(prompt), generation: true, item),
                                                       responses: try item.record.responses.map(whole), pairs: item.record.pairs,
                                                       sftTarget: try whole(item.record.sftTarget), text: .rendered))
        }
    }

    /// The conversation as the template renders it, for `dpohost data chat-template` too.
    public func text(_ messages: TemplateValue, generation: Bool, _ item: FlatPrompt? = nil) throws -> String {
        do {
            return try template.render(messages: messages, .init(addGenerationPrompt: generation, bosToken: bosToken, eosToken: eosToken))
        } catch let e as TemplateError {
            guard let item else { throw e }
            throw DataError.invalidArgument("the chat template failed on the conversation whose prompt is \(String(item.prompt.prefix(120))): \(e)")
        }
    }

    func messages(_ json: String, _ item: FlatPrompt) throws -> [TemplateValue] {
        guard case let .list(list) = try TemplateValue.parseJSON(json) else {
            throw DataError.invalidArgument("a conversational row's messages are not a JSON list: \(String(json.prefix(120)))")
        }
        return list
    }
}
