import Foundation
import XCTest
@testable import Configuration

/// The repository's own `config/`, found from this file's location.
let repoConfigDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("config", isDirectory: true)

/// 2024-03-05 07:08:09.123456 UTC.
let pinnedDate = Date(timeIntervalSince1970: 1_709_622_489.123456)

/// A pinned clock, user and file system: only the directories in `existing` exist.
func pinnedEnvironment(existing: Set<String> = ["/scr"], variables: [String: String] = [:],
                       currentDirectory: String = "/work/here") -> ConfigEnvironment {
    ConfigEnvironment(now: pinnedDate, timeZone: TimeZone(identifier: "UTC")!, userName: "tester",
                      currentDirectory: URL(fileURLWithPath: currentDirectory, isDirectory: true),
                      variables: variables, directoryExists: { existing.contains($0) })
}

func loader(environment: ConfigEnvironment = pinnedEnvironment()) -> ConfigLoader {
    ConfigLoader(configDirectory: repoConfigDirectory, environment: environment)
}

/// Loads with the repository config and a pinned environment.
func load(_ arguments: [String], userConfigFile: String? = nil,
          environment: ConfigEnvironment = pinnedEnvironment()) throws -> LoadedConfig {
    try loader(environment: environment).load(arguments: arguments, userConfigFile: userConfigFile)
}

/// The `ConfigError` a load throws, failing the test if it throws something else or nothing.
func loadError(_ arguments: [String], userConfigFile: String? = nil,
               file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
    do {
        _ = try load(arguments, userConfigFile: userConfigFile)
        XCTFail("expected an error for \(arguments)", file: file, line: line)
    } catch let error as ConfigError {
        return error
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
    return nil
}

/// Writes a temporary YAML file and returns its path.
func temporaryYAML(_ text: String) throws -> String {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("dpohost-config-\(UUID().uuidString).yaml")
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

/// The minimum a default run needs: a name and a model path.
let required = ["exp_name=run", "model.name_or_path=/models/m"]
