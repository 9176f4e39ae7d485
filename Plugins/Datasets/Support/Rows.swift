import DPOHostSDK

/// FILE:LINE, the prefix of every error about a row.
public struct Location: CustomStringConvertible {
    public let path: String
    public let line: Int
    /// Rows of a `.json` file's array are numbered as records (1-based), not lines.
    public let isRecord: Bool
    public init(path: String, line: Int, isRecord: Bool = false) {
        self.path = path
        self.line = line
        self.isRecord = isRecord
    }
    public var description: String { isRecord ? "\(path): record \(line)" : "\(path):\(line)" }

    /// A format error about this row (DPH_ERR_FORMAT), prefixed with FILE:LINE.
    public func error(_ message: String) -> DPHError { DPHError(Int32(DPH_ERR_FORMAT), "\(self): \(message)") }
}

/// One JSON-object row of a dataset file, with typed field access whose errors name the file,
/// the line and the fields involved.
public struct JSONRow {
    public let location: Location
    public let fields: [String: JSONValue]

    /// Parses `line`, which must hold one JSON object.
    public init(_ line: TextLine, path: String) throws {
        location = Location(path: path, line: line.number)
        let value: JSONValue
        do {
            value = try JSONParser.parse(line.bytes)
        } catch let e as JSONSyntaxError {
            throw location.error("JSON syntax error: \(e)")
        }
        guard case let .object(fields) = value else {
            throw location.error("a record must be a JSON object, found \(value.typeName)")
        }
        self.fields = fields
    }

    /// A row of a `.json` file's array.
    init(_ value: JSONValue, location: Location) throws {
        self.location = location
        guard case let .object(fields) = value else {
            throw location.error("a record must be a JSON object, found \(value.typeName)")
        }
        self.fields = fields
    }

    /// Rows of every non-blank line of `path`, in order.
    /// A `.json` (or `.json.gz`) file holding one JSON array of rows is read as that array, as
    /// `datasets.load_dataset("json")` reads it; any other file, JSON Lines.
    public static func forEach(path: String, maximumLineBytes: Int = LineLimit.defaultBytes,
                               _ body: (JSONRow) throws -> Void) throws {
        if path.hasSuffix(".json") || path.hasSuffix(".json.gz") {
            var bytes: [UInt8] = []
            try LineReader.forEachLine(path: path, maximumLineBytes: maximumLineBytes) { line in
                if !bytes.isEmpty { bytes.append(0x0A) }
                bytes += line.bytes
            }
            if bytes.first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) == UInt8(ascii: "[") {
                let value: JSONValue
                do { value = try bytes.withUnsafeBufferPointer { try JSONParser.parse($0) } } catch let e as JSONSyntaxError {
                    throw DPHError(Int32(DPH_ERR_FORMAT), "\(path): JSON syntax error: \(e) of the file")
                }
                guard case let .array(rows) = value else { return }
                for (k, row) in rows.enumerated() { try body(try JSONRow(row, location: Location(path: path, line: k + 1, isRecord: true))) }
                return
            }
        }
        try LineReader.forEachLine(path: path, maximumLineBytes: maximumLineBytes) { line in
            if line.isBlank { return }
            try body(try JSONRow(line, path: path))
        }
    }

    /// The named fields, all strings; reports every missing field, then every mistyped one.
    public func strings(_ keys: [String]) throws -> [String] {
        let missing = keys.filter { fields[$0] == nil }
        if !missing.isEmpty {
            let names = missing.map { "'\($0)'" }.joined(separator: ", ")
            throw location.error("missing field\(missing.count > 1 ? "s" : "") \(names)")
        }
        var values: [String] = []
        var wrong: [String] = []
        for key in keys {
            if case let .string(s) = fields[key]! { values.append(s) } else { wrong.append("'\(key)' is \(fields[key]!.typeName)") }
        }
        if !wrong.isEmpty {
            throw location.error("type error: \(wrong.joined(separator: ", ")); \(keys.count > 1 ? "strings" : "a string") expected")
        }
        return values
    }

    public func string(_ key: String) throws -> String { try strings([key])[0] }

    public func value(_ key: String) throws -> JSONValue {
        guard let v = fields[key] else { throw location.error("missing field '\(key)'") }
        return v
    }

    public func number(_ key: String) throws -> Double {
        let v = try value(key)
        guard case let .number(n) = v else { throw location.error("type error: '\(key)' is \(v.typeName), a number expected") }
        return n
    }

    /// An integer field (a JSON number without a fraction; booleans count as 0/1 as in Python).
    public func integer(_ key: String) throws -> Int {
        let v = try value(key)
        switch v {
        case let .number(n) where n.rounded() == n && abs(n) < 9.0e15: return Int(n)
        case let .bool(b): return b ? 1 : 0
        default: throw location.error("type error: '\(key)' is \(v.typeName == "a number" ? "a fractional number" : v.typeName), an integer expected")
        }
    }
}
