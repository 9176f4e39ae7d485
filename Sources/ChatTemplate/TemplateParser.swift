/// An expression of the Jinja2 subset chat templates use.
indirect enum TemplateExpr: Sendable {
    case literal(TemplateValue)
    case name(String)
    case list([TemplateExpr])
    case dict([(TemplateExpr, TemplateExpr)])
    case attribute(TemplateExpr, String)
    case item(TemplateExpr, TemplateExpr)
    case slice(TemplateExpr, TemplateExpr?, TemplateExpr?, TemplateExpr?)
    case call(TemplateExpr, [TemplateExpr], [(String, TemplateExpr)])
    case filter(TemplateExpr, String, [TemplateExpr], [(String, TemplateExpr)])
    case test(TemplateExpr, String, [TemplateExpr], negated: Bool)
    case unary(String, TemplateExpr)
    case binary(String, TemplateExpr, TemplateExpr)
    /// `then if condition else otherwise` (otherwise nil: Undefined).
    case conditional(then: TemplateExpr, condition: TemplateExpr, otherwise: TemplateExpr?)
}

/// What `{% set %}` assigns: a name, names unpacked from a sequence, or a namespace attribute.
enum SetTarget: Sendable {
    case names([String])
    case attribute(String, String)
}

/// A statement of the template.
indirect enum TemplateNode: Sendable {
    case text(String)
    case output(TemplateExpr)
    case conditional([(TemplateExpr, [TemplateNode])], otherwise: [TemplateNode])
    case loop(targets: [String], iterable: TemplateExpr, filter: TemplateExpr?, body: [TemplateNode], otherwise: [TemplateNode])
    case set(SetTarget, TemplateExpr)
    case setBlock(String, [TemplateNode])
    case macro(name: String, parameters: [(String, TemplateExpr?)], body: [TemplateNode])
    case breakLoop
    case continueLoop
}

/// Builds the statement tree from the lexer's pieces, and expressions by Jinja2's precedence:
/// conditional < or < and < not < comparisons (`in`, `==`, ...) < `+ -` < `~` < `* / // %` <
/// `**` < unary minus < postfix (`.`, `[]`, calls), filters `|` and tests `is`.
struct TemplateParser {
    private let pieces: [TemplatePiece]
    private var index = 0
    /// Statements open around the current one: deeper nesting than any template needs is refused
    /// before it can exhaust the stack.
    private var nesting = 0
    static let maxNesting = 100

    static func parse(_ source: String) throws -> [TemplateNode] {
        var parser = TemplateParser(pieces: try TemplateLexer.pieces(source))
        let (nodes, end) = try parser.block(until: [])
        if let end { throw TemplateError.syntax("unexpected '\(end.keyword)'", line: end.line) }
        return nodes
    }

    private init(pieces: [TemplatePiece]) { self.pieces = pieces }

    struct EndTag { let keyword: String; let tokens: [ExpressionToken]; let line: Int }

    /// Nodes until a statement whose keyword is in `enders` (returned) or the end (nil).
    private mutating func block(until enders: Set<String>) throws -> ([TemplateNode], EndTag?) {
        var nodes: [TemplateNode] = []
        while index < pieces.count {
            let piece = pieces[index]
            index += 1
            switch piece {
            case let .text(t): nodes.append(.text(t))
            case let .expression(source, line):
                var p = ExpressionParser(try ExpressionLexer.tokens(source, line: line), line: line)
                let e = try p.expression()
                try p.expectEnd()
                nodes.append(.output(e))
            case let .statement(source, line):
                let tokens = try ExpressionLexer.tokens(source, line: line)
                guard case let .name(keyword)? = tokens.first else { throw TemplateError.syntax("empty statement", line: line) }
                if enders.contains(keyword) { return (nodes, EndTag(keyword: keyword, tokens: Array(tokens.dropFirst()), line: line)) }
                nodes.append(try statement(keyword, Array(tokens.dropFirst()), line: line))
            }
        }
        // Out of pieces: the caller reports its unclosed statement, naming the line it opened on.
        return (nodes, nil)
    }

    private mutating func statement(_ keyword: String, _ tokens: [ExpressionToken], line: Int) throws -> TemplateNode {
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Self.maxNesting else { throw TemplateError.syntax("statements nested deeper than \(Self.maxNesting)", line: line) }
        var p = ExpressionParser(tokens, line: line)
        switch keyword {
        case "if":
            var branches: [(TemplateExpr, [TemplateNode])] = []
            var condition = try p.expression()
            try p.expectEnd()
            while true {
                let (body, end) = try block(until: ["elif", "else", "endif"])
                branches.append((condition, body))
                guard let end else { throw TemplateError.syntax("'if' is never closed with 'endif'", line: line) }
                switch end.keyword {
                case "elif":
                    var q = ExpressionParser(end.tokens, line: end.line)
                    condition = try q.expression()
                    try q.expectEnd()
                case "else":
                    let (otherwise, close) = try block(until: ["endif"])
                    guard close != nil else { throw TemplateError.syntax("'if' is never closed with 'endif'", line: line) }
                    return .conditional(branches, otherwise: otherwise)
                default:
                    return .conditional(branches, otherwise: [])
                }
            }
        case "for":
            var targets: [String] = []
            repeat {
                guard case let .name(n)? = p.next() else { throw TemplateError.syntax("expected a loop variable", line: line) }
                targets.append(n)
            } while p.accept(.op(","))
            guard p.acceptName("in") else { throw TemplateError.syntax("expected 'in' in the for statement", line: line) }
            let iterable = try p.orExpression(noConditional: true)
            var filter: TemplateExpr?
            if p.acceptName("if") { filter = try p.orExpression(noConditional: true) }
            try p.expectEnd()
            let (body, end) = try block(until: ["else", "endfor"])
            guard let end else { throw TemplateError.syntax("'for' is never closed with 'endfor'", line: line) }
            var otherwise: [TemplateNode] = []
            if end.keyword == "else" {
                let (o, close) = try block(until: ["endfor"])
                guard close != nil else { throw TemplateError.syntax("'for' is never closed with 'endfor'", line: line) }
                otherwise = o
            }
            return .loop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise)
        case "set":
            guard case let .name(first)? = p.next() else { throw TemplateError.syntax("expected a name after set", line: line) }
            var target = SetTarget.names([first])
            if p.accept(.op(".")) {
                guard case let .name(attr)? = p.next() else { throw TemplateError.syntax("expected an attribute name", line: line) }
                target = .attribute(first, attr)
            } else if p.peek == .op(",") {
                var names = [first]
                while p.accept(.op(",")) {
                    guard case let .name(n)? = p.next() else { throw TemplateError.syntax("expected a name", line: line) }
                    names.append(n)
                }
                target = .names(names)
            }
            if p.atEnd, case let .names(names) = target, names.count == 1 {
                let (body, end) = try block(until: ["endset"])
                guard end != nil else { throw TemplateError.syntax("'set' is never closed with 'endset'", line: line) }
                return .setBlock(names[0], body)
            }
            guard p.accept(.op("=")) else { throw TemplateError.syntax("expected '=' in the set statement", line: line) }
            let value = try p.tupleOrExpression()
            try p.expectEnd()
            return .set(target, value)
        case "macro":
            guard case let .name(name)? = p.next(), p.accept(.op("(")) else {
                throw TemplateError.syntax("expected a macro name and its parameters", line: line)
            }
            var parameters: [(String, TemplateExpr?)] = []
            while !p.accept(.op(")")) {
                guard case let .name(param)? = p.next() else { throw TemplateError.syntax("expected a parameter name", line: line) }
                parameters.append((param, p.accept(.op("=")) ? try p.expression() : nil))
                if !p.accept(.op(",")) { guard p.accept(.op(")")) else { throw TemplateError.syntax("expected ')'", line: line) }; break }
            }
            try p.expectEnd()
            let (body, end) = try block(until: ["endmacro"])
            guard end != nil else { throw TemplateError.syntax("'macro' is never closed with 'endmacro'", line: line) }
            return .macro(name: name, parameters: parameters, body: body)
        case "generation":
            // transformers' assistant-mask marker: renders its body unchanged.
            let (body, end) = try block(until: ["endgeneration"])
            guard end != nil else { throw TemplateError.syntax("'generation' is never closed with 'endgeneration'", line: line) }
            return .conditional([(.literal(.bool(true)), body)], otherwise: [])
        case "break": return .breakLoop
        case "continue": return .continueLoop
        default:
            throw TemplateError.syntax("unknown statement '\(keyword)'", line: line)
        }
    }
}

/// Recursive-descent parser of one expression's tokens.
struct ExpressionParser {
    private let tokens: [ExpressionToken]
    private var i = 0
    let line: Int
    /// Parentheses, brackets and operators nested so far (bounded, as statements are).
    private var depth = 0

    init(_ tokens: [ExpressionToken], line: Int) { self.tokens = tokens; self.line = line }

    var atEnd: Bool { i >= tokens.count }
    var peek: ExpressionToken? { i < tokens.count ? tokens[i] : nil }

    mutating func next() -> ExpressionToken? {
        guard i < tokens.count else { return nil }
        i += 1
        return tokens[i - 1]
    }

    mutating func accept(_ t: ExpressionToken) -> Bool {
        if peek == t { i += 1; return true }
        return false
    }

    mutating func acceptName(_ n: String) -> Bool { accept(.name(n)) }

    func error(_ m: String) -> TemplateError { .syntax(m, line: line) }

    func expectEnd() throws {
        if let t = peek { throw error("unexpected \(Self.describe(t))") }
    }

    static func describe(_ t: ExpressionToken) -> String {
        switch t {
        case let .name(n): return "'\(n)'"
        case let .string(s): return "string '\(s)'"
        case let .int(n): return "\(n)"
        case let .double(d): return "\(d)"
        case let .op(o): return "'\(o)'"
        }
    }

    /// `a, b` without brackets is a tuple (a list here), as in `{% set a = 1, 2 %}`.
    mutating func tupleOrExpression() throws -> TemplateExpr {
        let first = try expression()
        guard peek == .op(",") else { return first }
        var items = [first]
        while accept(.op(",")) {
            if atEnd { break }
            items.append(try expression())
        }
        return .list(items)
    }

    mutating func expression() throws -> TemplateExpr {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 100 else { throw error("an expression nested deeper than 100") }
        return try orExpression(noConditional: false)
    }

    mutating func orExpression(noConditional: Bool) throws -> TemplateExpr {
        var e = try andExpression()
        while acceptName("or") { e = .binary("or", e, try andExpression()) }
        if !noConditional, acceptName("if") {
            let condition = try orExpression(noConditional: true)
            let otherwise = acceptName("else") ? try expression() : nil
            return .conditional(then: e, condition: condition, otherwise: otherwise)
        }
        return e
    }

    mutating func andExpression() throws -> TemplateExpr {
        var e = try notExpression()
        while acceptName("and") { e = .binary("and", e, try notExpression()) }
        return e
    }

    mutating func notExpression() throws -> TemplateExpr {
        if acceptName("not") {
            depth += 1
            defer { depth -= 1 }
            guard depth <= 100 else { throw error("an expression nested deeper than 100") }
            return .unary("not", try notExpression())
        }
        return try comparison()
    }

    mutating func comparison() throws -> TemplateExpr {
        var e = try additive()
        while true {
            if case let .op(o)? = peek, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                i += 1
                e = .binary(o, e, try additive())
            } else if acceptName("in") {
                e = .binary("in", e, try additive())
            } else if peek == .name("not"), i + 1 < tokens.count, tokens[i + 1] == .name("in") {
                i += 2
                e = .unary("not", .binary("in", e, try additive()))
            } else {
                return e
            }
        }
    }

    mutating func additive() throws -> TemplateExpr { try leftAssociative(["+", "-"]) { try $0.concatenation() } }

    mutating func concatenation() throws -> TemplateExpr { try leftAssociative(["~"]) { try $0.multiplicative() } }

    mutating func multiplicative() throws -> TemplateExpr { try leftAssociative(["*", "/", "//", "%"]) { try $0.power() } }

    mutating func power() throws -> TemplateExpr { try leftAssociative(["**"]) { try $0.unary() } }

    /// One precedence level of binary operators, grouped from the left: `operand (op operand)*`.
    private mutating func leftAssociative(_ operators: Set<String>,
                                          _ operand: (inout ExpressionParser) throws -> TemplateExpr) throws -> TemplateExpr {
        var e = try operand(&self)
        while case let .op(o)? = peek, operators.contains(o) {
            i += 1
            e = .binary(o, e, try operand(&self))
        }
        return e
    }

    mutating func unary() throws -> TemplateExpr {
        if peek == .op("-") || peek == .op("+") {
            depth += 1
            defer { depth -= 1 }
            guard depth <= 100 else { throw error("an expression nested deeper than 100") }
        }
        if accept(.op("-")) { return .unary("-", try unary()) }
        if accept(.op("+")) { return try unary() }
        return try filtered(try postfix(try primary()))
    }

    mutating func primary() throws -> TemplateExpr {
        guard let t = next() else { throw error("expected an expression") }
        switch t {
        case let .string(s):
            var text = s
            // Adjacent string literals concatenate, as in Python.
            while case let .string(more)? = peek { text += more; i += 1 }
            return .literal(.string(text))
        case let .int(n): return .literal(.int(n))
        case let .double(d): return .literal(.double(d))
        case let .name(n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .op("("):
            if accept(.op(")")) { return .list([]) }
            let e = try tupleOrExpression()
            guard accept(.op(")")) else { throw error("expected ')'") }
            return e
        case .op("["):
            var items: [TemplateExpr] = []
            while !accept(.op("]")) {
                items.append(try expression())
                if !accept(.op(",")) { guard accept(.op("]")) else { throw error("expected ']'") }; break }
            }
            return .list(items)
        case .op("{"):
            var pairs: [(TemplateExpr, TemplateExpr)] = []
            while !accept(.op("}")) {
                let key = try expression()
                guard accept(.op(":")) else { throw error("expected ':' in a dict literal") }
                pairs.append((key, try expression()))
                if !accept(.op(",")) { guard accept(.op("}")) else { throw error("expected '}'") }; break }
            }
            return .dict(pairs)
        default:
            throw error("unexpected \(Self.describe(t))")
        }
    }

    mutating func postfix(_ base: TemplateExpr) throws -> TemplateExpr {
        var e = base
        while true {
            if accept(.op(".")) {
                switch next() {
                case let .name(n)?: e = .attribute(e, n)
                case let .int(n)?: e = .item(e, .literal(.int(n)))
                default: throw error("expected an attribute name after '.'")
                }
            } else if accept(.op("[")) {
                e = try subscriptOrSlice(e)
            } else if accept(.op("(")) {
                let (args, kwargs) = try arguments()
                e = .call(e, args, kwargs)
            } else {
                return e
            }
        }
    }

    mutating func subscriptOrSlice(_ base: TemplateExpr) throws -> TemplateExpr {
        var parts: [TemplateExpr?] = [nil]
        var isSlice = false
        while true {
            if accept(.op("]")) { break }
            if accept(.op(":")) {
                isSlice = true
                parts.append(nil)
                continue
            }
            parts[parts.count - 1] = try expression()
        }
        guard isSlice else {
            guard let index = parts[0] else { throw error("empty subscript") }
            return .item(base, index)
        }
        guard parts.count <= 3 else { throw error("a slice has at most three parts") }
        return .slice(base, parts[0], parts.count > 1 ? parts[1] : nil, parts.count > 2 ? parts[2] : nil)
    }

    /// `(a, b, key=value)` after the opening parenthesis.
    mutating func arguments() throws -> ([TemplateExpr], [(String, TemplateExpr)]) {
        var args: [TemplateExpr] = [], kwargs: [(String, TemplateExpr)] = []
        while !accept(.op(")")) {
            if case let .name(n)? = peek, i + 1 < tokens.count, tokens[i + 1] == .op("=") {
                i += 2
                kwargs.append((n, try expression()))
            } else {
                args.append(try expression())
            }
            if !accept(.op(",")) { guard accept(.op(")")) else { throw error("expected ')'") }; break }
        }
        return (args, kwargs)
    }

    mutating func filtered(_ base: TemplateExpr) throws -> TemplateExpr {
        var e = base
        while true {
            if accept(.op("|")) {
                guard case let .name(name)? = next() else { throw error("expected a filter name after '|'") }
                var args: [TemplateExpr] = [], kwargs: [(String, TemplateExpr)] = []
                if accept(.op("(")) { (args, kwargs) = try arguments() }
                e = .filter(e, name, args, kwargs)
            } else if acceptName("is") {
                let negated = acceptName("not")
                guard case let .name(name)? = next() else { throw error("expected a test name after 'is'") }
                var args: [TemplateExpr] = []
                if accept(.op("(")) {
                    args = try arguments().0
                } else if let t = peek, Self.startsArgument(t) {
                    args = [try postfix(try primary())]
                }
                e = .test(e, name, args, negated: negated)
            } else {
                return e
            }
        }
    }

    /// Whether a test written without parentheses takes this token as its argument
    /// (`x is divisibleby 3`, `x is sameas false`).
    static func startsArgument(_ t: ExpressionToken) -> Bool {
        switch t {
        case .string, .int, .double: return true
        case let .name(n): return !["and", "or", "not", "if", "else", "in", "is"].contains(n)
        case .op: return false
        }
    }
}
