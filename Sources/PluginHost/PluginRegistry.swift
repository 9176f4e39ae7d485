import Foundation

/// Where a registered plugin came from; explicitly chosen plugins win name clashes.
public enum PluginOrigin: String, Sendable {
    case builtin, installed, environment, explicit
}

/// The plugins known to one run, by kind and name. Passed around explicitly (no global state).
public final class PluginRegistry {
    public struct Entry {
        public let plugin: LoadedPlugin
        public let origin: PluginOrigin
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    /// Adds `plugin`; the same file reached twice (e.g. by two search paths) is kept once.
    public func add(_ plugin: LoadedPlugin, origin: PluginOrigin) {
        if let i = entries.firstIndex(where: { $0.plugin.path == plugin.path && $0.plugin.name == plugin.name }) {
            if origin == .explicit { entries[i] = Entry(plugin: plugin, origin: origin) }
            return
        }
        entries.append(Entry(plugin: plugin, origin: origin))
    }

    /// Loads `path` (after `check` of the opened file, when given) and adds it. A file already
    /// registered is not loaded again (its entry point runs once); an explicit origin still wins.
    @discardableResult
    public func load(path: String, origin: PluginOrigin, check: ((Int32) throws -> Void)? = nil) throws -> LoadedPlugin {
        let absolute = SharedLibrary.absolutePath(path)
        if let known = entries.first(where: { $0.plugin.path == absolute })?.plugin {
            add(known, origin: origin)
            return known
        }
        let plugin = try PluginLoader.load(path: path, check: check)
        add(plugin, origin: origin)
        return plugin
    }

    public func plugins(kind: PluginKind? = nil) -> [LoadedPlugin] {
        entries.filter { kind == nil || $0.plugin.kind == kind }.map(\.plugin)
    }

    /// The one plugin of `kind` named `name`. Several: the explicitly chosen one (`--plugin`)
    /// wins; otherwise the clash is an error listing the files.
    public func resolve(kind: PluginKind, name: String) throws -> LoadedPlugin {
        let candidates = entries.filter { $0.plugin.kind == kind && $0.plugin.name == name }
        if candidates.count == 1 { return candidates[0].plugin }
        if candidates.isEmpty {
            throw PluginError.notFound(kind: kind, name: name, available: plugins(kind: kind).map(\.name).sorted())
        }
        let explicit = candidates.filter { $0.origin == .explicit }
        if explicit.count == 1 { return explicit[0].plugin }
        throw PluginError.ambiguous(kind: kind, name: name, paths: candidates.map(\.plugin.path))
    }

    /// Any plugin named `name` (for `plugins info NAME`), with the same clash rules.
    public func resolve(name: String) throws -> LoadedPlugin {
        let kinds = Set(entries.filter { $0.plugin.name == name }.map(\.plugin.kind))
        guard let kind = kinds.first else {
            throw PluginError.notFound(kind: nil, name: name, available: entries.map(\.plugin.name).sorted())
        }
        guard kinds.count == 1 else {
            throw PluginError.ambiguous(kind: kind, name: name, paths: entries.filter { $0.plugin.name == name }.map(\.plugin.path))
        }
        return try resolve(kind: kind, name: name)
    }
}
