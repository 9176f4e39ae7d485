import Foundation
import HostUtility

/// The operations a template applies to values: attribute and item access, Python's binary
/// operators, and the filters, tests and methods of Jinja2 and Python that chat templates
/// call, with transformers' `tojson` (no HTML escaping, `ensure_ascii=False`).
enum TemplateBuiltins {
    /// The most bytes or items one repetition may make (a template is data a user did not write).
    static let limit = 1 << 24

    static func undefinedError(_ v: TemplateValue) -> TemplateError {
        .render("\(TemplateRenderer.undefinedName(v)) is undefined")
    }

    // MARK: access

    /// `x.name`: a dict's methods first, as Python's getattr finds them, then its key; a
    /// string's methods; a namespace's attribute. Missing: Undefined. On Undefined: an error.
    static func attribute(_ base: TemplateValue, _ name: String) throws -> TemplateValue {
        switch base {
        case .undefined: throw undefinedError(base)
        case let .dict(d):
            if let m = dictMethod(d, name) { return m }
            return d[name] ?? .undefined(name)
        case let .namespace(ns): return ns.attributes[name] ?? .undefined(name)
        case let .string(s): return stringMethod(s, name) ?? .undefined(name)
        default: return .undefined(name)
        }
    }

    /// `x[key]`: a dict's key first, then (for names) its methods; a sequence's index, negative
    /// from the end.
    static func item(_ base: TemplateValue, _ key: TemplateValue) throws -> TemplateValue {
        switch (base, key) {
        case (.undefined, _): throw undefinedError(base)
        case let (.dict(d), _):
            if let v = d[key] { return v }
            if case let .string(name) = key, let m = dictMethod(d, name) { return m }
            return .undefined(key.text)
        case let (.namespace(ns), .string(name)): return ns.attributes[name] ?? .undefined(name)
        case let (.list(l), .int(i)):
            let j = i < 0 ? l.count + i : i
            return l.indices.contains(j) ? l[j] : .undefined("[\(i)]")
        case let (.string(s), .int(i)):
            let chars = Array(s)
            let j = i < 0 ? chars.count + i : i
            return chars.indices.contains(j) ? .string(String(chars[j])) : .undefined("[\(i)]")
        case let (_, .string(name)): return try attribute(base, name)
        default: return .undefined("[\(key.repr)]")
        }
    }

    /// Python's slicing of lists and strings.
    static func slice(_ base: TemplateValue, _ start: TemplateValue?, _ stop: TemplateValue?, _ step: TemplateValue?) throws -> TemplateValue {
        func int(_ v: TemplateValue?) throws -> Int? {
            switch v {
            case nil, .none?: return nil
            case let .int(i)?: return i
            default: throw TemplateError.render("slice indices must be integers, got \(v!.repr)")
            }
        }
        let st = try int(step) ?? 1
        guard st != 0 else { throw TemplateError.render("slice step cannot be zero") }
        func indices(_ n: Int) throws -> [Int] {
            func clamp(_ v: Int?, _ dflt: Int, _ lo: Int, _ hi: Int) -> Int {
                guard var x = v else { return dflt }
                if x < 0 { x += n }
                return min(max(x, lo), hi)
            }
            if st > 0 {
                let a = clamp(try int(start), 0, 0, n), b = clamp(try int(stop), n, 0, n)
                return Array(Swift.stride(from: a, to: b, by: st))
            }
            let a = clamp(try int(start), n - 1, -1, n - 1), b = clamp(try int(stop), -1, -1, n - 1)
            return Array(Swift.stride(from: a, to: b, by: st))
        }
        switch base {
        case .undefined: throw undefinedError(base)
        case let .list(l): return .list(try indices(l.count).map { l[$0] })
        case let .string(s):
            let chars = Array(s)
            return .string(String(try indices(chars.count).map { chars[$0] }))
        default: throw TemplateError.render("\(base.repr) cannot be sliced")
        }
    }

    /// What `for` walks: a list's items, a dict's keys, a string's characters; Undefined and
    /// None-like values are errors except Undefined, which Jinja2 iterates as empty.
    static func iterate(_ v: TemplateValue) throws -> [TemplateValue] {
        switch v {
        case .undefined: return []
        case let .list(l): return l
        case let .dict(d): return d.entries.map(\.key)
        case let .string(s): return s.map { .string(String($0)) }
        default: throw TemplateError.render("\(v.repr) is not iterable")
        }
    }

    // MARK: operators

    static func binary(_ op: String, _ a: TemplateValue, _ b: TemplateValue) throws -> TemplateValue {
        switch op {
        case "==": return .bool(TemplateValue.equal(a, b))
        case "!=": return .bool(!TemplateValue.equal(a, b))
        case "<", ">", "<=", ">=": return .bool(try compare(op, a, b))
        case "in": return .bool(try contains(b, a))
        case "~": return .string(a.text + b.text)
        default: break
        }
        if a.isUndefined || b.isUndefined { throw undefinedError(a.isUndefined ? a : b) }
        switch (op, a, b) {
        case let ("+", .string(x), .string(y)): return .string(x + y)
        case let ("+", .list(x), .list(y)): return .list(x + y)
        case let ("*", .string(x), .int(n)), let ("*", .int(n), .string(x)):
            guard n <= 0 || x.utf8.count <= limit / n else { throw TemplateError.render("a string repeated past \(limit) bytes") }
            return .string(String(repeating: x, count: max(n, 0)))
        case let ("*", .list(x), .int(n)):
            guard n <= 0 || x.count <= limit / n else { throw TemplateError.render("a list repeated past \(limit) items") }
            return .list(Array(repeating: x, count: max(n, 0)).flatMap { $0 })
        case let ("%", .string(x), _): return .string(try percentFormat(x, b))
        default: break
        }
        func number(_ v: TemplateValue) -> Double? {
            switch v {
            case let .int(i): return Double(i)
            case let .double(d): return d
            case let .bool(x): return x ? 1 : 0
            default: return nil
            }
        }
        if case let .int(x) = a.asInt, case let .int(y) = b.asInt {
            switch op {
            case "+": return .int(x &+ y)
            case "-": return .int(x &- y)
            case "*": return .int(x &* y)
            case "//", "%":
                guard y != 0 else { throw TemplateError.render("integer division or modulo by zero") }
                guard !(x == Int.min && y == -1) else { throw TemplateError.render("integer overflow in \(op)") }
                let (q, r) = (x / y, x % y)
                let floors = r != 0 && (r < 0) != (y < 0)
                return .int(op == "//" ? (floors ? q - 1 : q) : (floors ? r + y : r))
            case "/":
                guard y != 0 else { throw TemplateError.render("division by zero") }
                return .double(Double(x) / Double(y))
            case "**":
                let p = pow(Double(x), Double(y))
                guard y >= 0 else { return .double(p) }
                guard abs(p) < 9.2e18 else { throw TemplateError.render("integer overflow in **") }
                return .int(Int(p))
            default: break
            }
        }
        guard let x = number(a), let y = number(b) else {
            throw TemplateError.render("unsupported operand types for \(op): \(a.repr) and \(b.repr)")
        }
        switch op {
        case "+": return .double(x + y)
        case "-": return .double(x - y)
        case "*": return .double(x * y)
        case "/": guard y != 0 else { throw TemplateError.render("division by zero") }; return .double(x / y)
        case "//": guard y != 0 else { throw TemplateError.render("division by zero") }; return .double((x / y).rounded(.down))
        case "%": guard y != 0 else { throw TemplateError.render("modulo by zero") }; return .double(x - y * (x / y).rounded(.down))
        case "**": return .double(pow(x, y))
        default: throw TemplateError.render("unknown operator \(op)")
        }
    }

    static func compare(_ op: String, _ a: TemplateValue, _ b: TemplateValue) throws -> Bool {
        let order: Int
        switch (a, b) {
        case let (.string(x), .string(y)): order = x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars) ? -1 : (x == y ? 0 : 1)
        default:
            guard let x = a.asDouble, let y = b.asDouble else {
                throw TemplateError.render("'\(op)' not supported between \(a.repr) and \(b.repr)")
            }
            order = x < y ? -1 : (x == y ? 0 : 1)
        }
        switch op {
        case "<": return order < 0
        case ">": return order > 0
        case "<=": return order <= 0
        default: return order >= 0
        }
    }

    static func contains(_ container: TemplateValue, _ item: TemplateValue) throws -> Bool {
        switch container {
        case .undefined: return false
        case let .string(s):
            guard case let .string(sub) = item else { throw TemplateError.render("'in <string>' requires a string, got \(item.repr)") }
            return sub.isEmpty || s.contains(sub)
        case let .list(l): return l.contains { TemplateValue.equal($0, item) }
        case let .dict(d): return d[item] != nil
        case let .namespace(ns): return ns.attributes[item] != nil
        default: throw TemplateError.render("\(container.repr) does not support 'in'")
        }
    }

    /// `"%s" % value` with the conversions templates use (%s, %d, %r, %%).
    static func percentFormat(_ format: String, _ arg: TemplateValue) throws -> String {
        var args: [TemplateValue]
        if case let .list(l) = arg { args = l } else { args = [arg] }
        var out = "", chars = Array(format), i = 0
        while i < chars.count {
            if chars[i] == "%", i + 1 < chars.count {
                let c = chars[i + 1]
                i += 2
                if c == "%" { out.append("%"); continue }
                guard !args.isEmpty else { throw TemplateError.render("not enough arguments for format string") }
                let v = args.removeFirst()
                switch c {
                case "s": out += v.text
                case "r": out += v.repr
                case "d", "i": out += v.asInt.map { $0.text } ?? v.text
                default: throw TemplateError.render("unsupported format character '\(c)'")
                }
                continue
            }
            out.append(chars[i])
            i += 1
        }
        return out
    }

    // MARK: filters

    static func filter(_ name: String, _ v: TemplateValue, _ args: [TemplateValue], _ kwargs: [(String, TemplateValue)]) throws -> TemplateValue {
        func kw(_ key: String) -> TemplateValue? { kwargs.first { $0.0 == key }?.1 }
        func arg(_ k: Int, _ key: String) -> TemplateValue? { k < args.count ? args[k] : kw(key) }
        switch name {
        case "length", "count":
            switch v {
            case .undefined: return .int(0)
            case let .string(s): return .int(s.count)
            case let .list(l): return .int(l.count)
            case let .dict(d): return .int(d.count)
            default: throw TemplateError.render("object of type \(v.repr) has no len()")
            }
        case "trim": return .string(pythonStrip(try string(v, "trim"), arg(0, "chars").map(\.text), left: true, right: true))
        case "string": return .string(v.text)
        case "lower": return .string(try string(v, name).lowercased())
        case "upper": return .string(try string(v, name).uppercased())
        case "capitalize":
            let s = try string(v, name)
            return .string(s.prefix(1).uppercased() + s.dropFirst().lowercased())
        case "title":
            return .string(try string(v, name).split(separator: " ", omittingEmptySubsequences: false)
                .map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined(separator: " "))
        case "replace":
            guard args.count >= 2 else { throw TemplateError.render("replace needs old and new") }
            return .string(try string(v, name).replacingOccurrences(of: args[0].text, with: args[1].text))
        case "join":
            let separator = arg(0, "d")?.text ?? ""
            var items = try iterate(v)
            if let attr = kw("attribute") ?? (args.count > 1 ? args[1] : nil) { items = try items.map { try attribute($0, attr.text) } }
            return .string(items.map(\.text).joined(separator: separator))
        case "tojson":
            let indent: Int? = { if case let .int(n)? = arg(0, "indent") { return n }; return nil }()
            let sortKeys = kw("sort_keys")?.truthy ?? false
            return .string(try json(v, indent: indent, sortKeys: sortKeys, level: 0))
        case "items":
            guard case let .dict(d) = v else {
                if v.isUndefined { return .list([]) }
                throw TemplateError.render("items needs a mapping, got \(v.repr)")
            }
            return .list(d.entries.map { .list([$0.key, $0.value]) })
        case "list": return .list(try iterate(v))
        case "first": return try iterate(v).first ?? .undefined("first")
        case "last": return try iterate(v).last ?? .undefined("last")
        case "reverse":
            if case let .string(s) = v { return .string(String(s.reversed())) }
            return .list(try iterate(v).reversed())
        case "unique":
            var seen: [TemplateValue] = []
            for x in try iterate(v) where !seen.contains(where: { TemplateValue.equal($0, x) }) { seen.append(x) }
            return .list(seen)
        case "default", "d":
            let fallback = arg(0, "default_value") ?? .string("")
            let boolean = arg(1, "boolean")?.truthy ?? false
            return v.isUndefined || (boolean && !v.truthy) ? fallback : v
        case "int":
            switch v {
            case let .int(i): return .int(i)
            case let .double(d): return .int(d.isFinite && abs(d) < 9.2e18 ? Int(d) : 0)
            case let .string(s): return .int(Int(s.trimmingCharacters(in: .whitespaces)) ?? 0)
            case let .bool(b): return .int(b ? 1 : 0)
            default: return .int(0)
            }
        case "float": return .double(v.asDouble ?? Double(v.text.trimmingCharacters(in: .whitespaces)) ?? 0)
        case "abs":
            switch v {
            case let .int(i): return .int(abs(i))
            case let .double(d): return .double(abs(d))
            default: throw TemplateError.render("abs needs a number, got \(v.repr)")
            }
        case "select", "reject":
            guard let testName = args.first?.text else { return .list(try iterate(v).filter { ($0.truthy) == (name == "select") }) }
            return .list(try iterate(v).filter { try test(testName, $0, Array(args.dropFirst())) == (name == "select") })
        case "selectattr", "rejectattr":
            guard let attr = args.first?.text else { throw TemplateError.render("\(name) needs an attribute name") }
            return .list(try iterate(v).filter { item in
                let value = try attribute(item, attr)
                let passes = args.count > 1 ? try test(args[1].text, value, Array(args.dropFirst(2))) : value.truthy
                return passes == (name == "selectattr")
            })
        case "map":
            if let attr = kw("attribute") {
                return .list(try iterate(v).map { item in
                    let value = try attribute(item, attr.text)
                    return value.isUndefined ? (kw("default") ?? value) : value
                })
            }
            guard let filterName = args.first?.text else { throw TemplateError.render("map needs a filter or attribute=") }
            return .list(try iterate(v).map { try filter(filterName, $0, Array(args.dropFirst()), []) })
        case "sort":
            let reverse = arg(0, "reverse")?.truthy ?? false
            let attr = kw("attribute")?.text
            var items = try iterate(v)
            try items.sort { x, y in
                let (a, b) = attr.map { (try? attribute(x, $0), try? attribute(y, $0)) } ?? (x, y)
                return try compare(reverse ? ">" : "<", a ?? .none, b ?? .none)
            }
            return .list(items)
        case "indent":
            let width: Int = { if case let .int(n)? = arg(0, "width") { return n }; return 4 }()
            let first = arg(1, "first")?.truthy ?? false
            let pad = String(repeating: " ", count: width)
            let lines = try string(v, name).components(separatedBy: "\n")
            return .string(lines.enumerated().map { k, line in (k == 0 && !first) || line.isEmpty ? line : pad + line }.joined(separator: "\n"))
        case "safe": return v
        case "wordcount": return .int(try string(v, name).split(whereSeparator: { $0.isWhitespace }).count)
        case "dictsort":
            guard case let .dict(d) = v else { throw TemplateError.render("dictsort needs a mapping") }
            let sorted = try d.entries.sorted { try compare("<", $0.key, $1.key) }
            return .list(sorted.map { .list([$0.key, $0.value]) })
        default:
            throw TemplateError.render("no filter named '\(name)'")
        }
    }

    static func string(_ v: TemplateValue, _ what: String) throws -> String {
        switch v {
        case let .string(s): return s
        case .undefined: throw undefinedError(v)
        default: return v.text
        }
    }

    // MARK: tests

    static func test(_ name: String, _ v: TemplateValue, _ args: [TemplateValue]) throws -> Bool {
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": if case .none = v { return true }; return false
        case "string": if case .string = v { return true }; return false
        case "mapping": if case .dict = v { return true }; return false
        case "iterable":
            switch v { case .list, .dict, .string: return true; default: return false }
        case "sequence":
            switch v { case .list, .dict, .string: return true; default: return false }
        case "number": switch v { case .int, .double: return true; default: return false }
        case "integer": if case .int = v { return true }; return false
        case "float": if case .double = v { return true }; return false
        case "boolean": if case .bool = v { return true }; return false
        case "true": if case .bool(true) = v { return true }; return false
        case "false": if case .bool(false) = v { return true }; return false
        case "callable": if case .callable = v { return true }; return false
        case "equalto", "eq", "==", "sameas": return args.first.map { TemplateValue.equal(v, $0) } ?? false
        case "ne", "!=": return !(args.first.map { TemplateValue.equal(v, $0) } ?? false)
        case "in": return try args.first.map { try contains($0, v) } ?? false
        case "lower": return (try? string(v, name)).map { $0 == $0.lowercased() } ?? false
        case "upper": return (try? string(v, name)).map { $0 == $0.uppercased() } ?? false
        case "odd", "even", "divisibleby":
            guard case let .int(i) = v else { throw TemplateError.render("\(name) needs an integer, got \(v.repr)") }
            if name == "odd" { return i % 2 != 0 }
            if name == "even" { return i % 2 == 0 }
            guard case let .int(d)? = args.first, d != 0 else { throw TemplateError.render("divisibleby needs a nonzero integer") }
            return i % d == 0
        case "gt", ">": return try compare(">", v, args.first ?? .none)
        case "ge", ">=": return try compare(">=", v, args.first ?? .none)
        case "lt", "<": return try compare("<", v, args.first ?? .none)
        case "le", "<=": return try compare("<=", v, args.first ?? .none)
        default: throw TemplateError.render("no test named '\(name)'")
        }
    }

    // MARK: methods

    static func dictMethod(_ d: TemplateDict, _ name: String) -> TemplateValue? {
        let f: (@Sendable ([TemplateValue], [(String, TemplateValue)]) throws -> TemplateValue)?
        switch name {
        case "get": f = { args, _ in args.first.flatMap { d[$0] } ?? (args.count > 1 ? args[1] : .none) }
        case "items": f = { _, _ in .list(d.entries.map { .list([$0.key, $0.value]) }) }
        case "keys": f = { _, _ in .list(d.entries.map(\.key)) }
        case "values": f = { _, _ in .list(d.entries.map(\.value)) }
        default: f = nil
        }
        return f.map { .callable(TemplateCallable(name: name, call: $0)) }
    }

    static func stringMethod(_ s: String, _ name: String) -> TemplateValue? {
        let f: (@Sendable ([TemplateValue], [(String, TemplateValue)]) throws -> TemplateValue)?
        @Sendable func chars(_ args: [TemplateValue]) -> String? {
            if case let .string(c)? = args.first { return c }
            return nil
        }
        switch name {
        case "strip": f = { args, _ in .string(pythonStrip(s, chars(args), left: true, right: true)) }
        case "lstrip": f = { args, _ in .string(pythonStrip(s, chars(args), left: true, right: false)) }
        case "rstrip": f = { args, _ in .string(pythonStrip(s, chars(args), left: false, right: true)) }
        case "upper": f = { _, _ in .string(s.uppercased()) }
        case "lower": f = { _, _ in .string(s.lowercased()) }
        case "title": f = { _, _ in try filter("title", .string(s), [], []) }
        case "capitalize": f = { _, _ in try filter("capitalize", .string(s), [], []) }
        case "startswith", "endswith":
            f = { args, _ in
                let options: [String]
                switch args.first {
                case let .string(p)?: options = [p]
                case let .list(l)?: options = l.map(\.text)
                default: throw TemplateError.render("\(name) needs a string")
                }
                return .bool(options.contains { name == "startswith" ? s.hasPrefix($0) : s.hasSuffix($0) })
            }
        case "split", "rsplit":
            f = { args, kwargs in
                let sep = chars(args) ?? kwargs.first { $0.0 == "sep" }.flatMap { if case let .string(x) = $0.1 { return x }; return nil }
                var maxSplit = -1
                if args.count > 1, case let .int(m) = args[1] { maxSplit = m }
                if let m = kwargs.first(where: { $0.0 == "maxsplit" }), case let .int(n) = m.1 { maxSplit = n }
                return .list(pythonSplit(s, sep, maxSplit, fromRight: name == "rsplit").map { .string($0) })
            }
        case "replace":
            f = { args, _ in
                guard args.count >= 2 else { throw TemplateError.render("replace needs old and new") }
                return .string(s.replacingOccurrences(of: args[0].text, with: args[1].text))
            }
        case "find":
            f = { args, _ in
                guard let r = s.range(of: args.first?.text ?? "") else { return .int(-1) }
                return .int(s.distance(from: s.startIndex, to: r.lowerBound))
            }
        case "count": f = { args, _ in .int(max(0, s.components(separatedBy: args.first?.text ?? "").count - 1)) }
        case "join": f = { args, _ in .string(try iterate(args.first ?? .list([])).map(\.text).joined(separator: s)) }
        case "splitlines": f = { _, _ in .list(s.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { .string(String($0)) }) }
        case "isdigit": f = { _, _ in .bool(!s.isEmpty && s.allSatisfy(\.isNumber)) }
        case "isspace": f = { _, _ in .bool(!s.isEmpty && s.allSatisfy(\.isWhitespace)) }
        default: f = nil
        }
        return f.map { .callable(TemplateCallable(name: name, call: $0)) }
    }

    /// Python's `str.strip(chars)`: whitespace when `chars` is nil.
    static func pythonStrip(_ s: String, _ chars: String?, left: Bool, right: Bool) -> String {
        let strip: (Unicode.Scalar) -> Bool = chars.map { set in { set.unicodeScalars.contains($0) } } ?? { $0.properties.isWhitespace }
        var scalars = Array(s.unicodeScalars)[...]
        if left { while let first = scalars.first, strip(first) { scalars.removeFirst() } }
        if right { while let last = scalars.last, strip(last) { scalars.removeLast() } }
        return String(String.UnicodeScalarView(scalars))
    }

    /// Python's `str.split(sep, maxsplit)` (and `rsplit`): runs of whitespace when `sep` is nil.
    static func pythonSplit(_ s: String, _ sep: String?, _ maxSplit: Int, fromRight: Bool) -> [String] {
        guard let sep, !sep.isEmpty else {
            let words = s.split(whereSeparator: { $0.isWhitespace }).map(String.init)
            guard maxSplit >= 0, words.count > maxSplit + 1 else { return words }
            // Rare in templates: keep the tail whole.
            if fromRight {
                return [words.dropLast(maxSplit).joined(separator: " ")] + words.suffix(maxSplit)
            }
            return Array(words.prefix(maxSplit)) + [words.dropFirst(maxSplit).joined(separator: " ")]
        }
        var parts = s.components(separatedBy: sep)
        guard maxSplit >= 0, parts.count > maxSplit + 1 else { return parts }
        if fromRight {
            let head = parts[..<(parts.count - maxSplit)].joined(separator: sep)
            parts = [head] + parts.suffix(maxSplit)
        } else {
            let tail = parts[maxSplit...].joined(separator: sep)
            parts = Array(parts.prefix(maxSplit)) + [tail]
        }
        return parts
    }

    // MARK: tojson and strftime

    /// `json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=sortKeys)`.
    static func json(_ v: TemplateValue, indent: Int?, sortKeys: Bool, level: Int) throws -> String {
        guard level < 1000 else { throw TemplateError.render("tojson: a value nested past 1,000 levels") }
        let newline = indent.map { "\n" + String(repeating: " ", count: $0 * (level + 1)) }
        let closing = indent.map { "\n" + String(repeating: " ", count: $0 * level) } ?? ""
        let itemSeparator = indent == nil ? ", " : ","
        switch v {
        case .none, .undefined: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(i): return String(i)
        case let .double(d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
            return TemplateValue.pythonFloat(d)
        case let .string(s): return QuotedLiteral.json.quoted(s)
        case let .list(l):
            if l.isEmpty { return "[]" }
            let items = try l.map { (newline ?? "") + (try json($0, indent: indent, sortKeys: sortKeys, level: level + 1)) }
            return "[" + items.joined(separator: itemSeparator) + closing + "]"
        case let .dict(d):
            if d.isEmpty { return "{}" }
            var entries = d.entries
            if sortKeys { entries.sort { $0.key.text.unicodeScalars.lexicographicallyPrecedes($1.key.text.unicodeScalars) } }
            let items = try entries.map { e -> String in
                let key: String
                switch e.key {
                case let .string(s): key = s
                case .int, .double, .bool, .none: key = try json(e.key, indent: nil, sortKeys: false, level: 0)
                default: throw TemplateError.render("keys must be str, int, float, bool or None, not \(e.key.repr)")
                }
                return (newline ?? "") + QuotedLiteral.json.quoted(key) + ": " + (try json(e.value, indent: indent, sortKeys: sortKeys, level: level + 1))
            }
            return "{" + items.joined(separator: itemSeparator) + closing + "}"
        case let .namespace(ns): return try json(.dict(ns.attributes), indent: indent, sortKeys: sortKeys, level: level)
        case .callable: throw TemplateError.render("a function is not JSON serializable")
        }
    }

    /// Python's `datetime.strftime` for the codes templates use, in UTC.
    static func strftime(_ format: String, _ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
        let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        var out = "", chars = Array(format), i = 0
        func two(_ n: Int?) -> String { String(format: "%02d", n ?? 0) }
        while i < chars.count {
            guard chars[i] == "%", i + 1 < chars.count else { out.append(chars[i]); i += 1; continue }
            var code = chars[i + 1]
            var noPad = false
            i += 2
            if code == "-", i < chars.count { noPad = true; code = chars[i]; i += 1 }
            switch code {
            case "Y": out += String(c.year ?? 0)
            case "y": out += two((c.year ?? 0) % 100)
            case "m": out += noPad ? String(c.month ?? 0) : two(c.month)
            case "d": out += noPad ? String(c.day ?? 0) : two(c.day)
            case "H": out += noPad ? String(c.hour ?? 0) : two(c.hour)
            case "M": out += noPad ? String(c.minute ?? 0) : two(c.minute)
            case "S": out += noPad ? String(c.second ?? 0) : two(c.second)
            case "B": out += months[(c.month ?? 1) - 1]
            case "b": out += String(months[(c.month ?? 1) - 1].prefix(3))
            case "A": out += days[(c.weekday ?? 1) - 1]
            case "a": out += String(days[(c.weekday ?? 1) - 1].prefix(3))
            case "e": out += String(format: "%2d", c.day ?? 0)
            case "%": out += "%"
            default: out += "%" + String(code)
            }
        }
        return out
    }
}

extension TemplateValue {
    var asInt: TemplateValue? {
        switch self {
        case .int: return self
        case let .bool(b): return .int(b ? 1 : 0)
        default: return nil
        }
    }

    var asDouble: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }
}
