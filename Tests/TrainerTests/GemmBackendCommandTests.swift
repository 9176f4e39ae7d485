import Foundation
import Training
import XCTest

/// `gemm_backend` as a user meets it: the run names its processor, library and kernel; a bad
/// value or a missing library is one clear line before anything runs; `auto` falls back with a
/// warning.
final class GemmBackendCommandTests: XCTestCase, CLIRunning {
    func trainArgs(_ extra: [String]) -> [String] {
        ["train"] + common(tempRun("gemm")) + ["loss=sft", "n_examples=4", "do_first_eval=false"] + extra
    }

    func testTrainNamesTheProcessorTheLibraryAndItsKernel() throws {
        for backend in ["openblas", "onednn"] {
            // A kernel forced from outside is warned about; left to dpohost, none is.
            let r = try dpohost(trainArgs(["gemm_backend=\(backend)"]), unsetting: ["OPENBLAS_CORETYPE"])
            XCTAssertEqual(r.status, 0, r.output)
            XCTAssertTrue(r.output.contains("processor: "), r.output)
            XCTAssertTrue(r.output.contains("matrix products: "), r.output)
            XCTAssertTrue(r.output.contains("gemm_backend=\(backend)"), r.output)
            XCTAssertFalse(r.output.contains("warning: "), r.output)
        }
    }

    func testABogusBackendIsOneErrorLineNamingTheKeyAndTheChoices() throws {
        let r = try dpohost(trainArgs(["gemm_backend=bogus"]))
        XCTAssertEqual(r.status, 1, r.output)
        let errors = r.output.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, r.output)
        let line = String(errors.first ?? "")
        XCTAssertTrue(line.contains("gemm_backend") && line.contains("bogus") && line.contains("auto, openblas, onednn"), line)
    }

    func testAnExplicitBackendWhoseLibraryIsMissingFailsAtStart() throws {
        let runDir = tempRun("missing")
        let r = try dpohost(["train"] + common(runDir) + ["loss=sft", "n_examples=4", "gemm_backend=onednn"],
                            environment: ["DPOHOST_ONEDNN_LIBRARY": "/nonexistent/libdnnl.so.2"])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("error: gemm_backend=onednn: cannot load /nonexistent/libdnnl.so.2"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: runDir.path), "no run directory before the backend loads")
    }

    func testAutoWarnsAndUsesTheOtherLibraryWhenOneIsMissing() throws {
        // DPOHOST_GEMM_BACKEND emptied: `make test` sets it for a whole pass, and here auto must choose.
        let r = try dpohost(trainArgs([]), environment: ["DPOHOST_ONEDNN_LIBRARY": "/nonexistent/libdnnl.so.2",
                                                         "DPOHOST_GEMM_BACKEND": ""])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("warning: gemm_backend=onednn: cannot load /nonexistent/libdnnl.so.2"), r.output)
        XCTAssertTrue(r.output.contains("gemm_backend=auto (openblas)"), r.output)
    }

    func testSelfcheckChecksEveryLibraryAndRefusesABogusBackend() throws {
        let ok = try dpohost(["selfcheck"])
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertTrue(ok.output.contains("ok    matrix products on OpenBLAS"), ok.output)
        XCTAssertTrue(ok.output.contains("ok    matrix products on oneDNN"), ok.output)
        let bad = try dpohost(["selfcheck", "--gemm-backend", "bogus"])
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertEqual(bad.output.trimmingCharacters(in: .whitespacesAndNewlines),
                       "error: --gemm-backend: 'bogus' is not a matrix-product backend; choose one of auto, openblas, onednn")
    }
}

/// A resumed run continues on the library its checkpoint was computed with.
final class GemmBackendResumeTests: XCTestCase, CLIRunning {
    func testAResumeUnderAutoKeepsTheCheckpointsLibraryAndAnOtherExplicitOneIsWarnedAbout() throws {
        let run = tempRun("resume-backend")
        let first = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=8", "gemm_backend=openblas"])
        XCTAssertEqual(first.status, 0, first.output)
        let state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: run.appendingPathComponent("LATEST/trainer_state.json")))
        XCTAssertEqual(state.gemmBackend, "openblas")

        let kept = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=12", "resume=\(run.path)"],
                               environment: ["DPOHOST_GEMM_BACKEND": ""])
        XCTAssertEqual(kept.status, 0, kept.output)
        XCTAssertTrue(kept.output.contains("gemm_backend=openblas"), kept.output)
        XCTAssertTrue(kept.output.contains("resuming with gemm_backend=openblas"), kept.output)

        let other = try dpohost(["train"] + common(run) + ["loss=sft", "n_examples=16", "resume=\(run.path)", "gemm_backend=onednn"])
        XCTAssertEqual(other.status, 0, other.output)
        XCTAssertTrue(other.output.contains("warning: step-12 was computed with gemm_backend=openblas and this run uses onednn"), other.output)
    }
}
