import Foundation
import TestSupport
import XCTest

/// Runs a Python script that reads dpohost's files with the real tool (TensorBoard, MLflow) and
/// prints JSON; the test is skipped, naming the package, where Python lacks it.
enum PythonReader {
    static func output(of script: String, arguments: [String], package: String,
                       environment: [String: String] = [:]) throws -> Data {
        let r = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", script] + arguments,
                                      environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
        let data = Data(r.stdout.utf8), message = r.stderr
        if r.status != 0 && (message.contains("No module named") || message.contains("No such file")) {
            throw XCTSkip("python3 with \(package) is not importable here (pip install \(package)): "
                          + (message.split(separator: "\n").last.map(String.init) ?? ""))
        }
        XCTAssertEqual(r.status, 0, message)
        return data
    }
}
