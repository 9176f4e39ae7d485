import ArgumentParser
import Foundation
import PluginHost

/// Where plugins come from, shared by every subcommand that loads them.
struct PluginSourceOptions: ParsableArguments {
    @Option(name: .customLong("plugin"), help: ArgumentHelp("Load this plugin .so (repeatable); it wins name clashes.", valueName: "PATH"))
    var plugins: [String] = []

    @Option(name: .customLong("plugin-dir"), help: ArgumentHelp("Directory of installed bundles (default: $DPOHOST_HOME/plugins or ~/.dpohost/plugins).", valueName: "DIR"))
    var pluginDirectory: String?

    var installDirectory: String { pluginDirectory ?? PluginDiscovery.defaultInstallDirectory() }

    /// A registry holding every discovered plugin; skipped files are reported on stderr.
    func registry() throws -> PluginRegistry {
        let registry = PluginRegistry()
        let discovery = PluginDiscovery(installDirectory: installDirectory, explicit: plugins)
        for warning in try PluginCLI.attempt({ try discovery.discover(into: registry) }) {
            PluginCLI.printError("warning: \(warning)")
        }
        return registry
    }
}

/// Turns plugin errors into one clear line on stderr and exit status 1, never a crash.
enum PluginCLI {
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func attempt<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as PluginError {
            printError("error: \(e)")
            throw ExitCode.failure
        }
    }
}

struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List, inspect, install and verify model, dataset and loss plugins.",
        subcommands: [List.self, Info.self, Records.self, Install.self, Verify.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List loaded plugins: name, kind, version, ABI, file, and a one-line description.")
        @OptionGroup var source: PluginSourceOptions

        func run() throws {
            let entries = try source.registry().entries
            if entries.isEmpty { print("no plugins found"); return }
            let rows = entries.map { e in
                [e.plugin.name, e.plugin.kind.rawValue, e.plugin.descriptor.version,
                 "\(e.plugin.descriptor.abiVersion)", e.plugin.path]
            }
            let header = ["NAME", "KIND", "VERSION", "ABI", "FILE"]
            let widths = (0..<header.count).map { c in ([header] + rows).map { $0[c].count }.max()! }
            func line(_ row: [String]) -> String {
                row.enumerated().map { c, cell in
                    c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                }.joined(separator: "  ")
            }
            print(line(header))
            // Each plugin's description on the line below its row, indented.
            for (row, e) in zip(rows, entries) {
                print(line(row))
                let summary = e.plugin.descriptor.summary
                if !summary.isEmpty { print("    " + summary) }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a plugin's description and options.")
        @Argument(help: "Plugin name.") var name: String
        @Option(help: "Kind, when several kinds share the name (model, dataset, loss).") var kind: String?
        @OptionGroup var source: PluginSourceOptions

        func run() throws {
            let registry = try source.registry()
            let plugin: LoadedPlugin = try PluginCLI.attempt {
                if let kind {
                    guard let k = PluginKind(rawValue: kind) else {
                        throw PluginError.notFound(kind: nil, name: kind, available: PluginKind.allCases.map(\.rawValue))
                    }
                    return try registry.resolve(kind: k, name: name)
                }
                return try registry.resolve(name: name)
            }
            let d = plugin.descriptor
            print("\(d.name) (\(d.kind) plugin, version \(d.version), ABI \(d.abiVersion))")
            if !d.summary.isEmpty { print(d.summary) }
            print("file: \(plugin.path)")
            if d.options.isEmpty { print("options: none"); return }
            print("options:")
            for o in d.options {
                let def = o.defaultValue.map { "default \($0.isEmpty ? "\"\"" : $0)" } ?? "required"
                print("  \(o.name) (\(o.type.rawValue), \(def))  \(o.help)")
            }
        }
    }

    struct Records: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the records a dataset plugin yields, one JSON object per line.")
        @Argument(help: "Dataset plugin name.") var name: String
        @Option(help: "Split to load (train or test).") var split = "train"
        @Option(name: .customLong("option"), help: ArgumentHelp("A plugin option (repeatable).", valueName: "NAME=VALUE"))
        var options: [String] = []
        @OptionGroup var source: PluginSourceOptions

        func run() throws {
            let registry = try source.registry()
            let records = try PluginCLI.attempt {
                let plugin = try registry.resolve(kind: .dataset, name: name)
                let given = try ResolvedOptions.pairs(options, plugin: name)
                return try DatasetPlugin(plugin, options: given).load(split: split)
            }
            for r in records {
                let object: [String: Any] = ["prompt": r.prompt, "responses": r.responses,
                                             "pairs": r.pairs.map { [$0.preferred, $0.dispreferred] },
                                             "sft_target": r.sftTarget]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify a bundle (directory or .tar.gz) and install it.")
        @Argument(help: "Bundle directory or .tar.gz holding manifest.json and the plugins.") var bundle: String
        @Option(name: .customLong("dir"), help: ArgumentHelp("Install into DIR.", valueName: "DIR")) var directory: String?

        func run() throws {
            let dir = directory ?? PluginDiscovery.defaultInstallDirectory()
            let installed = try PluginCLI.attempt { try BundleStore(directory: dir).install(bundlePath: bundle) }
            let m = installed.manifest
            print("installed bundle \(m.name) \(m.version) (\(m.plugins.count) plugin\(m.plugins.count == 1 ? "" : "s")) into \(installed.directory)")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-check the checksums and ABI of installed bundles.")
        @Option(name: .customLong("dir"), help: ArgumentHelp("Plugin directory to check.", valueName: "DIR")) var directory: String?

        func run() throws {
            let dir = directory ?? PluginDiscovery.defaultInstallDirectory()
            let results = BundleStore(directory: dir).verifyInstalled()
            if results.isEmpty { print("no bundles installed in \(dir)"); return }
            var failed = 0
            for r in results {
                if let e = r.error {
                    failed += 1
                    PluginCLI.printError("FAILED \(r.bundle): \(e)")
                } else {
                    print("ok \(r.bundle)")
                }
            }
            if failed > 0 {
                PluginCLI.printError("error: \(failed) of \(results.count) bundles failed verification")
                throw ExitCode.failure
            }
        }
    }
}
