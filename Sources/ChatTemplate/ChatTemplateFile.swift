import Foundation
import HostUtility

/// Where a model keeps its chat template, as transformers reads it: `chat_template.jinja` in
/// the tokenizer's folder, else `chat_template` of `tokenizer_config.json` (a string, or a list
/// of `{name, template}` of which `default` is taken).
public enum ChatTemplateFile {
    public enum LoadError: FileError {
        case unreadable(path: String, reason: String)
        case noDefault(path: String, names: [String])

        public var fault: (file: String, problem: String) {
            switch self {
            case let .unreadable(path, reason): return (path, reason)
            case let .noDefault(path, names):
                return (path, "chat_template lists templates \(names.joined(separator: ", ")) but none named 'default'")
            }
        }
    }

    /// The template of `directory`, or nil when it has none.
    public static func source(in directory: URL) throws -> (source: String, path: String)? {
        let jinja = directory.appendingPathComponent("chat_template.jinja")
        if FileManager.default.fileExists(atPath: jinja.path) { return (try read(jinja), jinja.path) }
        let config = directory.appendingPathComponent("tokenizer_config.json")
        guard FileManager.default.fileExists(atPath: config.path) else { return nil }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(contentsOf: config)) } catch {
            throw LoadError.unreadable(path: config.path, reason: "not JSON (\(error.localizedDescription))")
        }
        switch (object as? [String: Any])?["chat_template"] {
        case let s as String: return (s, config.path)
        case let list as [[String: Any]]:
            let named = list.compactMap { e -> (String, String)? in
                guard let n = e["name"] as? String, let t = e["template"] as? String else { return nil }
                return (n, t)
            }
            guard let d = named.first(where: { $0.0 == "default" }) ?? (named.count == 1 ? named[0] : nil) else {
                throw LoadError.noDefault(path: config.path, names: named.map(\.0))
            }
            return (d.1, config.path)
        default: return nil
        }
    }

    /// A template file given by the user (`chat_template=FILE`).
    public static func read(_ url: URL) throws -> String {
        do { return try String(contentsOf: url, encoding: .utf8) } catch {
            throw LoadError.unreadable(path: url.path, reason: "cannot be read as UTF-8 text")
        }
    }
}
