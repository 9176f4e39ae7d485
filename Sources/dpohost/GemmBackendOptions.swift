import ArgumentParser
import Foundation
import TensorCore

/// `--gemm-backend` of the commands that compute (`train` takes `gemm_backend=` instead).
struct GemmBackendOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Matrix-product library: auto, openblas or onednn (default: auto, or $DPOHOST_GEMM_BACKEND).",
                               valueName: "NAME"))
    var gemmBackend = "auto"

    /// Chooses the backend before any product runs and prints the processor and kernel lines.
    @discardableResult
    func apply(printTo stream: GemmReportStream = .standardError) throws -> GemmSetup {
        try Self.apply(GemmBackendChoice.parse(gemmBackend, key: "--gemm-backend"), printTo: stream)
    }

    @discardableResult
    static func apply(_ choice: GemmBackendChoice, printTo stream: GemmReportStream) throws -> GemmSetup {
        let setup = try Gemm.use(choice)
        for line in setup.report {
            switch stream {
            case .standardOutput: print(line)
            case .standardError: FileHandle.standardError.write(Data((line + "\n").utf8))
            case .none: break
            }
        }
        return setup
    }
}

/// Where a command shows its processor and kernel lines: the benchmarks' tables go to stdout,
/// the other commands keep stdout for their own output.
enum GemmReportStream { case standardOutput, standardError, none }
