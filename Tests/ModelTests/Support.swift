import Foundation
import PluginHost
import Training

enum ModelFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static func model(_ name: String) -> String { root.appendingPathComponent("models/\(name)").path }
    static func golden(_ name: String) -> String { root.appendingPathComponent("golden/\(name)").path }

    /// The built-in plugins, discovered next to the test products as the CLI finds them next to
    /// the binary (`swift test` builds every product, plugins included).
    static func registry() throws -> PluginRegistry {
        let registry = PluginRegistry()
        try PluginDiscovery(builtinDirectory: Bundle.main.bundleURL.path, installDirectory: nil, searchPath: [], explicit: [])
            .discover(into: registry)
        return registry
    }

    static func temporaryDirectory() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("dpohost-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// A copy of a fixture model directory that a test may modify.
    static func copy(_ name: String) throws -> URL {
        let dst = try temporaryDirectory().appendingPathComponent(name)
        try FileManager.default.copyItem(atPath: model(name), toPath: dst.path)
        return dst
    }
}
