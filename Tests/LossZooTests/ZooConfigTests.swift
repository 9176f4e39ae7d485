import Configuration
import Foundation
import PluginHost
import Training
import XCTest

/// `loss=<name>` picks `config/loss/<name>.yaml`; each zoo file must hold exactly its plugin's
/// options, with the plugin's defaults, so the Hydra-style command line selects every loss.
final class ZooConfigTests: XCTestCase {
    static let configDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config", isDirectory: true)

    func lossOptions(_ name: String) throws -> [String: String] {
        let loaded = try ConfigLoader(configDirectory: Self.configDirectory)
            .load(arguments: ["exp_name=run", "model.name_or_path=/models/m", "loss=\(name)"])
        XCTAssertEqual(loaded.config.loss.name, name)
        return loaded.config.loss.options.mapValues(\.displayText)
    }

    func testEveryZooLossConfigCreatesItsPlugin() throws {
        for name in Zoo.losses {
            XCTAssertNoThrow(try Zoo.loss(name, try lossOptions(name)), name)
        }
    }

    func testEveryZooLossConfigRepeatsThePluginDefaults() throws {
        for name in Zoo.losses {
            let plugin = try Zoo.registry().resolve(kind: .loss, name: name)
            let defaults = Dictionary(uniqueKeysWithValues: plugin.descriptor.options.map { ($0.name, $0.defaultValue ?? "") })
            let config = try lossOptions(name)
            XCTAssertEqual(Set(config.keys), Set(defaults.keys), name)
            for (key, value) in config {
                let expected = defaults[key] ?? ""
                if let a = Double(value), let b = Double(expected) { XCTAssertEqual(a, b, "\(name).\(key)") }
                else { XCTAssertEqual(value, expected, "\(name).\(key)") }
            }
        }
    }
}
