import Foundation

/// Reads Hugging Face JSON side files into `Decodable` types, turning every failure into a
/// `TokenizerError` that names the file and the offending field.
enum JSONFile {
    static func exists(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.path)
    }

    static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw TokenizerError.malformedFile(path: url.path, reason: describe(error))
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.malformedFile(path: url.path, reason: "\(error)")
        }
    }

    /// Decodes the file when it exists; nil when it does not.
    static func decodeIfPresent<T: Decodable>(_ type: T.Type, from url: URL) throws -> T? {
        exists(url) ? try decode(type, from: url) : nil
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case let .dataCorrupted(context) where context.codingPath.isEmpty:
            return "not valid JSON" + (context.underlyingError.map { " (\($0))" } ?? "")
        case let .dataCorrupted(context):
            return "invalid value at '\(path(context.codingPath))': \(context.debugDescription)"
        case let .keyNotFound(key, context):
            return "missing field '\(path(context.codingPath + [key]))'"
        case let .typeMismatch(_, context):
            return "field '\(path(context.codingPath))' has the wrong type: \(context.debugDescription)"
        case let .valueNotFound(type, context):
            return "field '\(path(context.codingPath))' is null, expected \(type)"
        @unknown default:
            return "\(error)"
        }
    }

    /// `model.merges[3]`-style path of a field.
    private static func path(_ codingPath: [any CodingKey]) -> String {
        var result = ""
        for key in codingPath {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                result += (result.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return result
    }
}
