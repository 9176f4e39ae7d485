import Foundation
import XCTest

/// Runs a Python script that reads dpohost's files with the real tool (TensorBoard, MLflow) and
/// prints JSON; the test is skipped, naming the package, where Python lacks it.
enum PythonReader {
    static func output(of script: String, arguments: [String], package: String,
                       environment: [String: String] = [:]) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script] + arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus != 0 && (message.contains("No module named") || message.contains("No such file")) {
            throw XCTSkip("python3 with \(package) is not importable here (pip install \(package)): "
                          + (message.split(separator: "\n").last.map(String.init) ?? ""))
        }
        XCTAssertEqual(p.terminationStatus, 0, message)
        return data
    }
}
