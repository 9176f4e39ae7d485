import ChatTemplate
import DataPipeline
import Foundation
import Tokenizers

/// The chat template a run renders its conversational rows with: `chat_template=FILE`, else
/// the tokenizer's own. Looked up only when a dataset is conversational, so a model without a
/// template trains plain-text data as before.
public struct ConversationSource {
    /// `chat_template=FILE`, else nil.
    let templateFile: String?
    /// Gives BOS and EOS texts; nil renders without them (a template shown without a model).
    let tokenizer: (any Tokenizer)?
    let tokenizerDirectory: String?

    public init(templateFile: String?, tokenizer: (any Tokenizer)?, tokenizerDirectory: String?) {
        self.templateFile = templateFile
        self.tokenizer = tokenizer
        self.tokenizerDirectory = tokenizerDirectory
    }

    /// The renderer, with the tokenizer's BOS and EOS texts as transformers passes them.
    public func renderer() throws -> (ConversationRenderer, String) {
        let found: (source: String, path: String)?
        if let file = templateFile {
            found = (try ChatTemplateFile.read(URL(fileURLWithPath: file)), file)
        } else {
            found = try tokenizerDirectory.flatMap { try ChatTemplateFile.source(in: URL(fileURLWithPath: $0)) }
        }
        guard let found else {
            throw DataError.invalidArgument("the data is conversational (message lists) but \(tokenizerDirectory ?? "no model") has no chat template "
                + "(chat_template.jinja or tokenizer_config.json's chat_template); give one with chat_template=FILE")
        }
        let template: ChatTemplate
        do { template = try ChatTemplate(source: found.source) } catch {
            throw DataError.invalidArgument("\(found.path): \(error)")
        }
        let text = { (id: Int32?) in id.flatMap { self.tokenizer?.token(for: $0) } }
        return (ConversationRenderer(template: template, bosToken: text(tokenizer?.bosTokenId), eosToken: text(tokenizer?.eosTokenId)), found.path)
    }

    /// `prompts` with every conversational row rendered (plain rows as they are).
    public func render(_ prompts: [FlatPrompt], log: (String) -> Void) throws -> [FlatPrompt] {
        guard prompts.contains(where: { $0.text == .messages }) else { return prompts }
        let (renderer, path) = try renderer()
        log("conversational rows rendered with the chat template of \(path)")
        return try renderer.render(prompts)
    }
}
