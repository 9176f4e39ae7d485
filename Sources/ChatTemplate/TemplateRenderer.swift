import Foundation

/// Renders a parsed template: Jinja2's scoping (a `for` body gets a fresh frame each
/// iteration, so `set` inside a loop does not leak out; `namespace()` is how templates carry
/// values across iterations), Python's operators and truthiness, and the filters, tests and
/// methods chat templates call (`TemplateBuiltins`). One render on one thread (its macros call
/// back into it, hence the unchecked Sendable).
final class TemplateRenderer: @unchecked Sendable {
    private var frames: [[String: TemplateValue]]
    private var output = ""
    private let now: Date
    /// Guards against a template that recurses without end through its macros.
    private var depth = 0
    /// Loop iterations so far: a template that would loop (or write) without useful end stops.
    private var steps = 0
    static let maxSteps = 10_000_000
    /// Bytes written so far, in every buffer (macros and set blocks write to their own).
    private var written = 0

    enum Signal: Error { case breakLoop, continueLoop }

    init(globals: [String: TemplateValue], now: Date) {
        self.frames = [globals]
        self.now = now
        define("namespace", .callable(TemplateCallable(name: "namespace") { args, kwargs in
            var attributes = TemplateDict()
            if case let .dict(d)? = args.first { attributes = d }
            for (k, v) in kwargs { attributes[.string(k)] = v }
            return .namespace(TemplateNamespace(attributes))
        }))
        define("raise_exception", .callable(TemplateCallable(name: "raise_exception") { args, _ in
            throw TemplateError.raised(args.first?.text ?? "")
        }))
        let instant = now
        define("strftime_now", .callable(TemplateCallable(name: "strftime_now") { args, _ in
            .string(TemplateBuiltins.strftime(args.first?.text ?? "", instant))
        }))
        define("range", .callable(TemplateCallable(name: "range") { args, _ in
            let n = try args.map { v -> Int in
                guard case let .int(i) = v else { throw TemplateError.render("range() takes integers, got \(v.repr)") }
                return i
            }
            let (start, stop, step) = n.count == 1 ? (0, n[0], 1) : (n[0], n.count > 1 ? n[1] : 0, n.count > 2 ? n[2] : 1)
            guard step != 0 else { throw TemplateError.render("range() step must not be zero") }
            guard abs((stop - start) / step) <= 1_000_000 else { throw TemplateError.render("range() of more than a million items") }
            return .list(Swift.stride(from: start, to: stop, by: step).map { .int($0) })
        }))
    }

    private func define(_ name: String, _ value: TemplateValue) { frames[0][name] = value }

    func render(_ nodes: [TemplateNode]) throws -> String {
        try run(nodes)
        return output
    }

    // MARK: statements

    private func run(_ nodes: [TemplateNode]) throws {
        for node in nodes { try run(node) }
    }

    private func run(_ node: TemplateNode) throws {
        switch node {
        case let .text(t): try write(t)
        case let .output(e): try write(try eval(e).text)
        case let .conditional(branches, otherwise):
            for (condition, body) in branches where try eval(condition).truthy {
                try run(body)
                return
            }
            try run(otherwise)
        case let .loop(targets, iterable, filter, body, otherwise):
            try loop(targets, iterable, filter, body, otherwise)
        case let .set(target, e):
            let value = try eval(e)
            switch target {
            case let .names(names): try assign(names, value)
            case let .attribute(object, attr):
                guard case let .namespace(ns)? = lookup(object) else {
                    throw TemplateError.render("cannot set '\(attr)' on '\(object)': only a namespace() takes attributes")
                }
                ns.attributes[.string(attr)] = value
            }
        case let .setBlock(name, body):
            let saved = output
            output = ""
            try run(body)
            let captured = output
            output = saved
            frames[frames.count - 1][name] = .string(captured)
        case let .macro(name, parameters, body):
            frames[frames.count - 1][name] = .callable(macro(name, parameters, body))
        case .breakLoop: throw Signal.breakLoop
        case .continueLoop: throw Signal.continueLoop
        }
    }

    private func write(_ text: String) throws {
        written += text.utf8.count
        guard written <= 1 << 26 else { throw TemplateError.render("the rendering grew past 64 MiB") }
        output += text
    }

    private func assign(_ names: [String], _ value: TemplateValue) throws {
        if names.count == 1 { frames[frames.count - 1][names[0]] = value; return }
        let items = try TemplateBuiltins.iterate(value)
        guard items.count == names.count else {
            throw TemplateError.render("cannot unpack \(items.count) values into \(names.count) names")
        }
        for (n, v) in zip(names, items) { frames[frames.count - 1][n] = v }
    }

    private func loop(_ targets: [String], _ iterable: TemplateExpr, _ filter: TemplateExpr?,
                      _ body: [TemplateNode], _ otherwise: [TemplateNode]) throws {
        var items = try TemplateBuiltins.iterate(try eval(iterable))
        if let filter {
            items = try items.filter { item in
                frames.append([:])
                defer { frames.removeLast() }
                try assign(targets, item)
                return try eval(filter).truthy
            }
        }
        if items.isEmpty { try run(otherwise); return }
        let count = items.count
        for (k, item) in items.enumerated() {
            let loopInfo = TemplateDict(distinct: [
                (.string("index"), .int(k + 1)), (.string("index0"), .int(k)), (.string("revindex"), .int(count - k)),
                (.string("revindex0"), .int(count - k - 1)), (.string("first"), .bool(k == 0)), (.string("last"), .bool(k == count - 1)),
                (.string("length"), .int(count)),
                (.string("previtem"), k > 0 ? items[k - 1] : .undefined("loop.previtem")),
                (.string("nextitem"), k + 1 < count ? items[k + 1] : .undefined("loop.nextitem")),
                (.string("cycle"), .callable(TemplateCallable(name: "loop.cycle") { args, _ in
                    args.isEmpty ? .undefined("loop.cycle") : args[k % args.count]
                })),
            ])
            steps += 1
            guard steps <= Self.maxSteps else { throw TemplateError.render("the template ran past \(Self.maxSteps) loop iterations") }
            frames.append(["loop": .dict(loopInfo)])
            defer { frames.removeLast() }
            try assign(targets, item)
            do { try run(body) } catch Signal.continueLoop { continue } catch Signal.breakLoop { break }
        }
    }

    private func macro(_ name: String, _ parameters: [(String, TemplateExpr?)], _ body: [TemplateNode]) -> TemplateCallable {
        TemplateCallable(name: name) { [unowned self] args, kwargs in
            guard self.depth < 64 else { throw TemplateError.render("macro '\(name)' recursed past 64 levels") }
            var frame: [String: TemplateValue] = [:]
            for (k, (param, defaultValue)) in parameters.enumerated() {
                if k < args.count { frame[param] = args[k] }
                else if let kw = kwargs.first(where: { $0.0 == param }) { frame[param] = kw.1 }
                else if let defaultValue { frame[param] = try self.eval(defaultValue) }
                else { frame[param] = .undefined(param) }
            }
            let saved = self.output
            self.output = ""
            self.frames.append(frame)
            self.depth += 1
            defer { self.frames.removeLast(); self.depth -= 1 }
            try self.run(body)
            let result = self.output
            self.output = saved
            return .string(result)
        }
    }

    // MARK: expressions

    private func lookup(_ name: String) -> TemplateValue? {
        for frame in frames.reversed() { if let v = frame[name] { return v } }
        return nil
    }

    func eval(_ e: TemplateExpr) throws -> TemplateValue {
        switch e {
        case let .literal(v): return v
        case let .name(n): return lookup(n) ?? .undefined(n)
        case let .list(items): return .list(try items.map(eval))
        case let .dict(pairs):
            var d = TemplateDict()
            for (k, v) in pairs { d[try eval(k)] = try eval(v) }
            return .dict(d)
        case let .attribute(base, name): return try TemplateBuiltins.attribute(try eval(base), name)
        case let .item(base, index): return try TemplateBuiltins.item(try eval(base), try eval(index))
        case let .slice(base, start, stop, step):
            return try TemplateBuiltins.slice(try eval(base), try start.map(eval), try stop.map(eval), try step.map(eval))
        case let .call(callee, args, kwargs):
            let f = try eval(callee)
            guard case let .callable(c) = f else {
                throw TemplateError.render(f.isUndefined ? "\(Self.undefinedName(f)) is undefined" : "\(f.repr) is not callable")
            }
            return try c.call(try args.map(eval), try kwargs.map { ($0.0, try eval($0.1)) })
        case let .filter(base, name, args, kwargs):
            return try TemplateBuiltins.filter(name, try eval(base), try args.map(eval), try kwargs.map { ($0.0, try eval($0.1)) })
        case let .test(base, name, args, negated):
            let result = try TemplateBuiltins.test(name, try eval(base), try args.map(eval))
            return .bool(negated ? !result : result)
        case let .unary(op, operand):
            let v = try eval(operand)
            switch op {
            case "not": return .bool(!v.truthy)
            default:
                switch v {
                case let .int(i): return .int(-i)
                case let .double(d): return .double(-d)
                default: throw TemplateError.render("bad operand for unary -: \(v.repr)")
                }
            }
        case let .binary(op, lhs, rhs):
            if op == "and" { let a = try eval(lhs); return a.truthy ? try eval(rhs) : a }
            if op == "or" { let a = try eval(lhs); return a.truthy ? a : try eval(rhs) }
            return try TemplateBuiltins.binary(op, try eval(lhs), try eval(rhs))
        case let .conditional(then, condition, otherwise):
            if try eval(condition).truthy { return try eval(then) }
            return try otherwise.map(eval) ?? .undefined("the else branch")
        }
    }

    static func undefinedName(_ v: TemplateValue) -> String {
        if case let .undefined(n) = v { return "'\(n)'" }
        return v.repr
    }
}
