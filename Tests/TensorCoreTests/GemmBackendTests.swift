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
    /// beta 1 (accumulate), split over three blocks and not, against a float64 product.
    func testEveryLibraryComputesEveryProductGemmHandsIt() throws {
        let savedThreads = Gemm.threads
        defer { Gemm.threads = savedThreads }
        Gemm.threads = 3
        for kind in GemmBackendKind.allCases {
            let library = try Gemm.library(kind)
            for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
                for (m, n, k) in [(1, 1, 1), (5, 7, 3), (96, 130, 40), (40, 300, 70)] {
                    for beta: Float in [0, 1] {
                        for parallel in [false, true] {
                            try checkProduct(library, transA, transB, m, n, k, beta: beta, parallel: parallel)
                        }
                    }
                }
            }
        }
    }

    func checkProduct(_ library: GemmLibrary, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                      beta: Float, parallel: Bool) throws {
        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
        let a = (0..<((transA ? k : m) * lda)).map { Float(($0 * 7919) % 13) / 13 - 0.5 }
        let b = (0..<((transB ? n : k) * ldb)).map { Float(($0 * 104_729) % 11) / 11 - 0.5 }
        var c = (0..<(m * ldc)).map { beta == 0 ? Float.nan : Float($0 % 5) }
        let start = c
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            Gemm.using(library) {
                Gemm.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: pa.baseAddress!, lda: lda,
                           b: pb.baseAddress!, ldb: ldb, beta: beta, c: pc.baseAddress!, ldc: ldc, parallel: parallel)
            }
        } } }
        for i in 0..<m {
            for j in 0..<n {
                var exact = beta == 0 ? 0 : Double(start[i * ldc + j])
                for p in 0..<k {
                    exact += Double(a[transA ? p * lda + i : i * lda + p]) * Double(b[transB ? j * ldb + p : p * ldb + j])
                }
                let got = Double(c[i * ldc + j])
                guard abs(got - exact) <= 1e-5 * Double(k) + 1e-6 else {
                    return XCTFail("\(library.summary) \(transA ? "T" : "N")\(transB ? "T" : "N") m \(m) n \(n) k \(k) beta \(beta) parallel \(parallel): C[\(i),\(j)] = \(got), expected \(exact)")
                }
            }
            // Padding between rows of C is never written.
            for j in n..<ldc { XCTAssertEqual(c[i * ldc + j].bitPattern, start[i * ldc + j].bitPattern) }
        }
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
