import Foundation

/// Finds plugins in the places the docs promise, in this order: the built-in directory next to
/// the binary, installed bundles, `DPOHOST_PLUGIN_PATH`, and `--plugin PATH` (explicit).
///
/// Files named explicitly must load (their errors are thrown). Files found by scanning a
/// directory are skipped with a warning when they fail, so one broken library does not stop
/// every command.
public struct PluginDiscovery {
    /// Built-in plugins: `libdph_*.so` in this directory and every `.so` in its `plugins/`.
    public var builtinDirectory: String?
    public var installDirectory: String?
    /// Entries of `DPOHOST_PLUGIN_PATH` (':'-separated): directories are scanned, files loaded.
    public var searchPath: [String]
    public var explicit: [String]

    public init(builtinDirectory: String? = PluginDiscovery.executableDirectory,
                installDirectory: String? = PluginDiscovery.defaultInstallDirectory(),
                searchPath: [String] = PluginDiscovery.environmentSearchPath(), explicit: [String] = []) {
        self.builtinDirectory = builtinDirectory
        self.installDirectory = installDirectory
        self.searchPath = searchPath
        self.explicit = explicit
    }

    public static var executableDirectory: String? {
        Bundle.main.executableURL?.deletingLastPathComponent().path
    }

    /// `$DPOHOST_HOME/plugins`, else `~/.dpohost/plugins`.
    public static func defaultInstallDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let home = environment["DPOHOST_HOME"], !home.isEmpty { return home + "/plugins" }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".dpohost/plugins").path
    }

    public static func environmentSearchPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        (environment["DPOHOST_PLUGIN_PATH"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }

    /// Loads everything into `registry`; returns the warnings of skipped files.
    @discardableResult
    public func discover(into registry: PluginRegistry) throws -> [String] {
        var warnings: [String] = []
        func scan(_ files: [String], origin: PluginOrigin) {
            for f in files {
                do { try registry.load(path: f, origin: origin) } catch { warnings.append("skipped \(f): \(error)") }
            }
        }
        if let dir = builtinDirectory {
            scan(Self.sharedObjects(in: dir).filter { URL(fileURLWithPath: $0).lastPathComponent.hasPrefix("libdph_") },
                 origin: .builtin)
            scan(Self.sharedObjects(in: dir + "/plugins"), origin: .builtin)
        }
        if let dir = installDirectory {
            for bundle in BundleStore(directory: dir).installedBundles() {
                // Each library is checked against the checksum its bundle recorded every time it
                // is loaded: a file replaced after install (size and dates can be forged) is skipped.
                for plugin in bundle.manifest.plugins {
                    let path = bundle.directory + "/" + plugin.file
                    do {
                        try registry.load(path: path, origin: .installed) { descriptor in
                            try BundleStore.checkInstalled(descriptor: descriptor, path: path, expected: plugin.sha256,
                                                           bundle: bundle.directory)
                        }
                    } catch { warnings.append("skipped \(path): \(error)") }
                }
            }
        }
        for entry in searchPath {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: entry, isDirectory: &isDir), isDir.boolValue {
                scan(Self.sharedObjects(in: entry), origin: .environment)
            } else {
                try registry.load(path: entry, origin: .environment)
            }
        }
        for path in explicit { try registry.load(path: path, origin: .explicit) }
        return warnings
    }

    static func sharedObjects(in dir: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".so") }.sorted().map { dir + "/" + $0 }
    }
}
