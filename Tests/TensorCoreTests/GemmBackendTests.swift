import Foundation
import XCTest
@testable import TensorCore

/// The matrix-product backends: each library that install-deps installs loads, computes every
/// product shape `Gemm` hands it, and runs a kernel for this processor's widest vector unit.
final class GemmBackendTests: XCTestCase {
    func testBothLibrariesLoadOnAMachineSetUpByInstallDeps() throws {
        for kind in GemmBackendKind.allCases {
            XCTAssertNoThrow(try Gemm.library(kind), kind.rawValue)
        }
    }

    /// Every transpose, leading dimensions wider than the rows, beta 0 over NaN (never read) and
    /// beta 1 (accumulate), split over three blocks and not, against a float64 product
    /// (`GemmProductCheck`, which `dpohost selfcheck` also runs).
    func testEveryLibraryComputesEveryProductGemmHandsIt() throws {
        for kind in GemmBackendKind.allCases {
            let library = try Gemm.library(kind)
            XCTAssertNil(GemmProductCheck().run(on: library), library.summary)
        }
    }

    /// The check itself catches a wrong product: a "library" that writes zeros fails it.
    func testTheProductCheckCatchesAWrongLibrary() {
        let zeros = GemmKernel(cblas: { _, _, _, m, n, _, _, _, _, _, _, _, c, ldc in
            for i in 0..<Int(m) { for j in 0..<Int(n) { c![i * Int(ldc) + j] = 0 } }
        }, dnnl: nil)
        let broken = GemmLibrary(kind: .openblas, version: "zeros", kernel: "none", kernelVectorUnit: .avx512,
                                 kernelSource: "test", entry: zeros)
        let failure = GemmProductCheck().run(on: broken)
        XCTAssertTrue(failure?.hasPrefix("NN m 1 n 1 k 1 beta 0.0: C[0, 0] = 0.0") == true, failure ?? "nil")
    }

    /// On the live machine neither library falls back below the processor's vector unit (unless
    /// the user forced a kernel with OPENBLAS_CORETYPE).
    func testNeitherLibraryRunsAKernelBelowThisProcessorsVectorUnit() throws {
        let processor = ProcessorFeatures.current
        for kind in GemmBackendKind.allCases {
            let library = try Gemm.library(kind)
            if library.kernelSource.hasPrefix("OPENBLAS_CORETYPE=") { continue }
            XCTAssertGreaterThanOrEqual(library.kernelVectorUnit, processor.vectorUnit, "\(library.summary) on \(processor.summary)")
            XCTAssertNil(library.slowKernelWarning(on: processor), library.summary)
        }
    }

    func testOpenBLASRunsTheKernelDpohostChoseForThisProcessor() throws {
        let library = try Gemm.library(.openblas)
        guard !library.kernelSource.hasPrefix("OPENBLAS_CORETYPE="), let chosen = OpenBLASCore.choose(for: .current) else {
            throw XCTSkip("OPENBLAS_CORETYPE set by the user, or a processor without AVX")
        }
        XCTAssertEqual(library.kernel.lowercased(), chosen.lowercased(), library.summary)
        XCTAssertEqual(library.kernelSource, "chosen by dpohost")
    }

    func testAFallbackKernelDrawsOneWarningNamingTheKernelAndTheFix() throws {
        let library = try Gemm.library(.openblas)
        let prescott = GemmLibrary(kind: .openblas, version: "OpenBLAS 0.3.21", kernel: "Prescott", kernelVectorUnit: .sse,
                                   kernelSource: "OpenBLAS's own detection", entry: library.entry)
        let warning = try XCTUnwrap(prescott.slowKernelWarning(on: ProcessorFeaturesTests.xeon207))
        XCTAssertTrue(warning.hasPrefix("warning: OpenBLAS 0.3.21 runs its Prescott kernel (SSE) on a processor with AVX-512"), warning)
        XCTAssertTrue(warning.contains("gemm_backend=onednn") && warning.contains("OPENBLAS_CORETYPE=Cooperlake"), warning)
        XCTAssertFalse(warning.contains("\n"))
        XCTAssertNil(prescott.slowKernelWarning(on: ProcessorFeatures(vendor: "", family: 0, model: 0, name: "", megahertz: nil, cpuinfoFlags: "pni")))
    }

    func testAnUnknownBackendIsRefusedNamingTheKeyAndTheChoices() {
        XCTAssertThrowsError(try GemmBackendChoice.parse("bogus")) { error in
            XCTAssertEqual("\(error)", "gemm_backend: 'bogus' is not a matrix-product backend; choose one of auto, openblas, onednn")
        }
        XCTAssertEqual(try GemmBackendChoice.parse("oneDNN"), .onednn)
    }

    func testAutoDefersToTheEnvironmentAndAnExplicitChoiceStands() throws {
        let env = [GemmBackendChoice.environmentVariable: "openblas"]
        XCTAssertEqual(try GemmBackendChoice.auto.resolvingEnvironment(env), .openblas)
        XCTAssertEqual(try GemmBackendChoice.onednn.resolvingEnvironment(env), .onednn)
        XCTAssertEqual(try GemmBackendChoice.auto.resolvingEnvironment([:]), .auto)
        XCTAssertThrowsError(try GemmBackendChoice.auto.resolvingEnvironment([GemmBackendChoice.environmentVariable: "mkl"])) { error in
            XCTAssertTrue("\(error)".hasPrefix("DPOHOST_GEMM_BACKEND: 'mkl'"), "\(error)")
        }
    }

    func testAMissingLibraryIsAnErrorNamingTheFileAndThePackage() {
        XCTAssertThrowsError(try GemmLibrary.load(.onednn, processor: .current,
                                                  environment: ["DPOHOST_ONEDNN_LIBRARY": "/nonexistent/libdnnl.so.2"])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("gemm_backend=onednn: cannot load /nonexistent/libdnnl.so.2"), text)
            XCTAssertTrue(text.contains("libdnnl-dev"), text)
        }
    }
}
