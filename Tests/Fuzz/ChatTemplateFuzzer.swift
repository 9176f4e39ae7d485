// libFuzzer target: arbitrary bytes as a chat template (and, after a NUL, as the conversation's
// JSON), parsed and rendered with and without the generation prompt. Any outcome but a crash, a
// hang or a leak is fine: a template error is the expected answer to most inputs. Built and run
// by scripts/fuzz.sh (`make fuzz`), not by `swift build`.
// fuzz-modules: ChatTemplate HostUtility
import ChatTemplate
import Foundation

/// Built per input: a global would stay allocated and read as a leak.
func defaultConversation() -> TemplateValue {
    .list([
    .dict(TemplateDict([("role", .string("system")), ("content", .string("Be brief."))])),
    .dict(TemplateDict([("role", .string("user")), ("content", .string("Hi?"))])),
    .dict(TemplateDict([("role", .string("assistant")), ("content", .string("<think>x</think>Hello."))])),
    ])
}

@_cdecl("LLVMFuzzerTestOneInput")
public func chatTemplateFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let source = String(decoding: bytes[..<split], as: UTF8.self)
    var messages = defaultConversation()
    if split < bytes.count, let parsed = try? TemplateValue.parseJSON(String(decoding: bytes[(split + 1)...], as: UTF8.self)) {
        messages = parsed
    }
    guard let template = try? ChatTemplate(source: source) else { return 0 }
    for generation in [false, true] {
        _ = try? template.render(messages: messages, .init(addGenerationPrompt: generation, bosToken: "<s>", eosToken: "</s>"))
    }
    return 0
}
