import ArgumentParser
import ChatTemplate
import Foundation
import Tokenizers
import Training

/// `dpohost data chat-template`: what a template renders for a conversation, nothing added.
struct ChatTemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-template",
        abstract: "Print exactly what a chat template renders for the messages of a JSON file.")

    @Option(help: ArgumentHelp("Model or tokenizer folder whose chat template (and BOS/EOS) to use.", valueName: "DIR"))
    var model: String?
    @Option(help: ArgumentHelp("A Jinja chat template file (instead of the model's).", valueName: "FILE")) var template: String?
    @Option(help: ArgumentHelp("A JSON file: a list of {role, content} messages, or {\"messages\": [...], \"tools\": [...]}.",
                               valueName: "FILE"))
    var messages: String
    @Flag(help: "End with the assistant's header, as when asking the model to answer.") var addGenerationPrompt = false
    @Option(help: "bos_token passed to the template (default: the model's).") var bosToken: String?
    @Option(help: "eos_token passed to the template (default: the model's).") var eosToken: String?

    func run() throws {
        try DataCLI.attempt {
            guard model != nil || template != nil else { throw ValidationError("give --model DIR or --template FILE") }
            let tokenizer = try model.map { try TokenizerLoader.load(directory: URL(fileURLWithPath: $0)) }
            let (renderer, _) = try ConversationSource(templateFile: template, tokenizer: tokenizer, tokenizerDirectory: model).renderer()
            let text: String
            do { text = try String(contentsOf: URL(fileURLWithPath: messages), encoding: .utf8) } catch {
                throw ValidationError("\(messages): cannot be read as UTF-8 text")
            }
            let parsed: TemplateValue
            do { parsed = try TemplateValue.parseJSON(text) } catch { throw ValidationError("\(messages): \(error)") }
            var conversation = parsed, tools: TemplateValue?
            if case let .dict(d) = parsed {
                guard let m = d["messages"] else { throw ValidationError("\(messages): an object needs a \"messages\" list") }
                conversation = m
                tools = d["tools"]
            }
            guard case .list = conversation else { throw ValidationError("\(messages): the messages must be a JSON list") }
            let options = ChatTemplate.Options(addGenerationPrompt: addGenerationPrompt, bosToken: bosToken ?? renderer.bosToken,
                                               eosToken: eosToken ?? renderer.eosToken, tools: tools)
            FileHandle.standardOutput.write(Data(try renderer.template.render(messages: conversation, options).utf8))
        }
    }
}
