import Foundation
import Synchronization

/// Which library runs the matrix products: the `gemm_backend` setting.
///
/// Both libraries are loaded with `dlopen` at run time, never linked: OpenBLAS reads
/// `OPENBLAS_CORETYPE` once, when it loads, so dpohost must choose its kernel before loading it
/// (docs/performance.md, "Sixth round").
public enum GemmBackendChoice: String, CaseIterable, Sendable {
    case auto, openblas, onednn

    /// The environment variable that sets the default (`auto` leaves the choice to it).
    public static let environmentVariable = "DPOHOST_GEMM_BACKEND"

    /// Parses a setting's value; the error names the key, the value and the choices.
    public static func parse(_ text: String, key: String = "gemm_backend") throws -> GemmBackendChoice {
        guard let choice = GemmBackendChoice(rawValue: text.lowercased()) else {
            throw GemmBackendError(
                "\(key): '\(text)' is not a matrix-product backend; choose one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return choice
    }

    /// `auto` defers to `DPOHOST_GEMM_BACKEND` where it is set (so a whole test run can be
    /// switched); an explicit choice stands.
    public func resolvingEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> GemmBackendChoice {
        guard self == .auto, let value = environment[Self.environmentVariable], !value.isEmpty else { return self }
        return try Self.parse(value, key: Self.environmentVariable)
    }
}

/// A matrix-product library.
public enum GemmBackendKind: String, CaseIterable, Sendable {
    case openblas, onednn

    public var displayName: String { self == .openblas ? "OpenBLAS" : "oneDNN" }

    /// The shared object dlopen'ed (overridable to point at another build, or in tests at none)
    /// and the Debian package that installs it.
    var library: (variable: String, defaultName: String, package: String) {
        switch self {
        case .openblas: ("DPOHOST_OPENBLAS_LIBRARY", "libopenblas.so.0", "libopenblas-dev")
        case .onednn: ("DPOHOST_ONEDNN_LIBRARY", "libdnnl.so.2", "libdnnl-dev")
        }
    }

    /// `auto`'s order of preference on a processor. Measured at the step's product shapes
    /// (docs/performance.md): on AVX-512 processors oneDNN's float32 GEMM matched or beat
    /// OpenBLAS 0.3.21's best kernel, and it dispatches on features, so a processor newer than
    /// the library still gets its best kernel; on AVX2 processors OpenBLAS with its Haswell/Zen
    /// kernel is the measured ceiling of earlier rounds.
    public static func automaticOrder(for processor: ProcessorFeatures) -> [GemmBackendKind] {
        processor.vectorUnit == .avx512 ? [.onednn, .openblas] : [.openblas, .onednn]
    }
}

/// OpenBLAS's kernels (its `OPENBLAS_CORETYPE` names) as dpohost chooses them.
public enum OpenBLASCore {
    /// The core type for a processor: the newest kernel of Debian's OpenBLAS (0.3.21) that the
    /// processor's features allow, or nil to let OpenBLAS detect (processors without AVX, where
    /// its own detection picks an SSE kernel anyway). OpenBLAS itself looks at model numbers and
    /// falls back to `Prescott` on models it does not know.
    public static func choose(for p: ProcessorFeatures) -> String? {
        switch p.vectorUnit {
        case .avx512: p.has(.avx512_bf16) ? "Cooperlake" : "SkylakeX"
        case .avx2FMA: p.vendor == "AuthenticAMD" || p.vendor == "HygonGenuine" ? "Zen" : "Haswell"
        case .avx: "Sandybridge"
        case .sse: nil
        }
    }

    /// The vector unit an OpenBLAS core's kernels use.
    public static func vectorUnit(ofCore name: String) -> VectorUnit {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": .avx512
        case "haswell", "zen": .avx2FMA
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": .avx
        default: .sse
        }
    }
}

/// oneDNN's instruction-set levels (`dnnl_cpu_isa_t`) as dpohost reports them.
enum OneDNNISA {
    static func describe(_ isa: UInt32) -> (name: String, unit: VectorUnit) {
        switch isa {
        case 0x3e7: ("avx512_core_amx", .avx512)
        case 0xe7: ("avx512_core_bf16", .avx512)
        case 0x67: ("avx512_core_vnni", .avx512)
        case 0x27: ("avx512_core", .avx512)
        case 0xf, 0x1f: ("avx512_mic", .avx512)
        case 0x407: ("avx2_vnni", .avx2FMA)
        case 0x7: ("avx2", .avx2FMA)
        case 0x3: ("avx", .avx)
        case 0x1: ("sse41", .sse)
        default: (String(format: "isa 0x%x", isa), .sse)
        }
    }
}

/// The entry point of a loaded library: plain C function pointers, so the hot path copies no
/// reference-counted value.
public struct GemmKernel: @unchecked Sendable {
    typealias CBLASSgemm = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
                                           UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
                                           Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias DNNLSgemm = @convention(c) (CChar, CChar, Int64, Int64, Int64, Float,
                                          UnsafePointer<Float>?, Int64, UnsafePointer<Float>?, Int64,
                                          Float, UnsafeMutablePointer<Float>?, Int64) -> Int32
    let cblas: CBLASSgemm?
    let dnnl: DNNLSgemm?

    static let none = GemmKernel(cblas: nil, dnnl: nil)
    var isLoaded: Bool { cblas != nil || dnnl != nil }

    /// One single-threaded product, row-major (`Gemm.sgemm` splits and validates).
    @inline(__always)
    func callAsFunction(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if let cblas {
            // CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112.
            cblas(101, transA ? 112 : 111, transB ? 112 : 111, Int32(m), Int32(n), Int32(k), alpha,
                  a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        } else {
            let status = dnnl!(transA ? 84 : 78, transB ? 84 : 78, Int64(m), Int64(n), Int64(k), alpha,
                               a, Int64(lda), b, Int64(ldb), beta, c, Int64(ldc))
            precondition(status == 0, "dnnl_sgemm refused a product (status \(status)): m \(m) n \(n) k \(k) lda \(lda) ldb \(ldb) ldc \(ldc)")
        }
    }
}

/// A loaded matrix-product library and what it told about itself.
public struct GemmLibrary: Sendable {
    public let kind: GemmBackendKind
    /// e.g. "OpenBLAS 0.3.21" or "oneDNN 2.6.3".
    public let version: String
    /// The kernel in use: OpenBLAS's core name, oneDNN's instruction set.
    public let kernel: String
    public let kernelVectorUnit: VectorUnit
    /// Where the kernel came from, e.g. "chosen by dpohost" or "OPENBLAS_CORETYPE".
    public let kernelSource: String
    let entry: GemmKernel

    /// "matrix products: OpenBLAS 0.3.21, kernel Cooperlake (chosen by dpohost)".
    public var summary: String { "\(version), kernel \(kernel) (\(kernelSource))" }

    /// The warning for a kernel that leaves the processor's wider vector units idle, if it does.
    public func slowKernelWarning(on processor: ProcessorFeatures) -> String? {
        guard kernelVectorUnit < processor.vectorUnit else { return nil }
        let fix: String
        switch kind {
        case .openblas:
            let core = OpenBLASCore.choose(for: processor).map { " or OPENBLAS_CORETYPE=\($0)" } ?? ""
            fix = "use gemm_backend=onednn (Debian's libdnnl-dev)\(core), or unset OPENBLAS_CORETYPE so that dpohost chooses"
        case .onednn:
            fix = "use gemm_backend=openblas, or a newer oneDNN"
        }
        return "warning: \(version) runs its \(kernel) kernel (\(kernelVectorUnit)) on a processor with \(processor.vectorUnit): "
            + "matrix products run at a fraction of this machine's speed; \(fix)"
    }

    /// Loads `kind` for `processor`. Throws with the library's name and dlopen's reason when it is missing.
    static func load(_ kind: GemmBackendKind, processor: ProcessorFeatures,
                     environment: [String: String] = ProcessInfo.processInfo.environment) throws -> GemmLibrary {
        let path = environment[kind.library.variable].flatMap { $0.isEmpty ? nil : $0 } ?? kind.library.defaultName
        switch kind {
        case .openblas:
            var source = "OpenBLAS's own detection"
            var chosen: String?
            if let forced = environment["OPENBLAS_CORETYPE"], !forced.isEmpty {
                source = "OPENBLAS_CORETYPE=\(forced)"
            } else if let core = OpenBLASCore.choose(for: processor) {
                setenv("OPENBLAS_CORETYPE", core, 1)
                chosen = core
                source = "chosen by dpohost"
            }
            // dpohost splits products over its own threads (Gemm); OpenBLAS's would only spin.
            setenv("OPENBLAS_NUM_THREADS", "1", 1)
            let handle = try open(path, kind)
            let sgemm: GemmKernel.CBLASSgemm = try symbol(handle, "cblas_sgemm", path)
            typealias NameFunction = @convention(c) () -> UnsafePointer<CChar>?
            typealias ThreadsFunction = @convention(c) (Int32) -> Void
            let corename: NameFunction? = try? symbol(handle, "openblas_get_corename", path)
            let config: NameFunction? = try? symbol(handle, "openblas_get_config", path)
            let setThreads: ThreadsFunction? = try? symbol(handle, "openblas_set_num_threads", path)
            setThreads?(1)
            let core = corename?().map { String(cString: $0) } ?? "unknown"
            if let chosen, core.lowercased() != chosen.lowercased() {
                source = "dpohost chose \(chosen), which this OpenBLAS does not have"
            }
            let version = config?().map { String(cString: $0).split(separator: " ").prefix(2).joined(separator: " ") } ?? "OpenBLAS"
            return GemmLibrary(kind: kind, version: version, kernel: core, kernelVectorUnit: OpenBLASCore.vectorUnit(ofCore: core),
                               kernelSource: source, entry: GemmKernel(cblas: sgemm, dnnl: nil))
        case .onednn:
            // oneDNN's OpenMP threads would compete with dpohost's own (Gemm splits products).
            setenv("OMP_NUM_THREADS", "1", 1)
            let handle = try open(path, kind)
            let sgemm: GemmKernel.DNNLSgemm = try symbol(handle, "dnnl_sgemm", path)
            typealias ISAFunction = @convention(c) () -> UInt32
            typealias VersionFunction = @convention(c) () -> UnsafePointer<Int32>?
            let isa = (try? symbol(handle, "dnnl_get_effective_cpu_isa", path) as ISAFunction).map { $0() } ?? 0
            let version = (try? symbol(handle, "dnnl_version", path) as VersionFunction)?().map {
                "oneDNN \($0[0]).\($0[1]).\($0[2])"
            } ?? "oneDNN"
            let (name, unit) = OneDNNISA.describe(isa)
            return GemmLibrary(kind: kind, version: version, kernel: name, kernelVectorUnit: unit,
                               kernelSource: "oneDNN's own dispatch", entry: GemmKernel(cblas: nil, dnnl: sgemm))
        }
    }

    private static func open(_ path: String, _ kind: GemmBackendKind) throws -> UnsafeMutableRawPointer {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            throw GemmBackendError(
                "gemm_backend=\(kind.rawValue): cannot load \(path) (\(reason)); install Debian's \(kind.library.package) (scripts/install-deps.sh) or set \(kind.library.variable)")
        }
        return handle
    }

    private static func symbol<F>(_ handle: UnsafeMutableRawPointer, _ name: String, _ path: String) throws -> F {
        guard let address = dlsym(handle, name) else {
            throw GemmBackendError("\(path) has no \(name)")
        }
        return unsafeBitCast(address, to: F.self)
    }
}

/// The outcome of choosing a backend: the library in use and the lines to show the user.
public struct GemmSetup: Sendable {
    public let library: GemmLibrary
    public let processor: ProcessorFeatures
    /// Warnings (a missing library under auto, a kernel that leaves vector units idle).
    public let warnings: [String]
    /// Whether `auto` chose the library (the report then says so, beside the library it took).
    public var automatic = false

    /// The lines printed at the start of `train`, `bench` and `selfcheck`.
    public var report: [String] {
        [processor.summary, "matrix products: \(library.summary), gemm_backend=" + (automatic ? "auto (\(library.kind.rawValue))" : library.kind.rawValue),
         "row kernels: \(VectorUnitDispatch.summary)"] + warnings
    }
}

extension Gemm {
    /// Libraries loaded so far in this process (each is loaded once; both can be, for the benchmark).
    private static let loaded = Mutex<[GemmBackendKind: GemmLibrary]>([:])
    private static let setupLock = Mutex<GemmSetup?>(nil)

    /// Loads `kind` once per process.
    public static func library(_ kind: GemmBackendKind) throws -> GemmLibrary {
        try loaded.withLock { cache in
            if let library = cache[kind] { return library }
            let library = try GemmLibrary.load(kind, processor: .current)
            cache[kind] = library
            return library
        }
    }

    /// Chooses the backend for every later product. `auto` (after `DPOHOST_GEMM_BACKEND`) takes
    /// the processor's preferred library and falls back to the other with a warning; an explicit
    /// choice whose library is missing is an error.
    @discardableResult
    public static func use(_ choice: GemmBackendChoice) throws -> GemmSetup {
        let resolved = try choice.resolvingEnvironment()
        let processor = ProcessorFeatures.current
        #if DPOHOST_FMA
        // The 8-lane kernels were compiled for the build machine's AVX2 + FMA (Package.swift).
        guard processor.vectorUnit >= .avx2FMA else {
            throw GemmBackendError("this dpohost was built for processors with AVX2 and FMA, which this one lacks (\(processor.summary)); rebuild it here, or with DPOHOST_PORTABLE=1")
        }
        #endif
        var warnings: [String] = []
        let library: GemmLibrary
        if let kind = GemmBackendKind(rawValue: resolved.rawValue) {
            library = try self.library(kind)
        } else {
            let order = GemmBackendKind.automaticOrder(for: processor)
            var found: GemmLibrary?
            var failures: [String] = []
            for kind in order {
                do { found = try self.library(kind); break } catch { failures.append("\(error)") }
            }
            guard let found else {
                throw GemmBackendError("gemm_backend=auto: no matrix-product library loads: " + failures.joined(separator: "; "))
            }
            if !failures.isEmpty {
                warnings.append("warning: \(failures.joined(separator: "; ")); using \(found.version)")
            }
            library = found
        }
        if let slow = library.slowKernelWarning(on: processor) { warnings.append(slow) }
        #if !DPOHOST_FMA
        if processor.vectorUnit >= .avx2FMA && !VectorUnitDispatch.wide {
            warnings.append("warning: this dpohost was built without AVX2 and FMA (DPOHOST_PORTABLE=1, or on a machine without them), which this processor has: its row kernels run at a fraction of its speed; rebuild without DPOHOST_PORTABLE")
        }
        #endif
        var setup = GemmSetup(library: library, processor: processor, warnings: warnings)
        setup.automatic = GemmBackendKind(rawValue: resolved.rawValue) == nil
        setupLock.withLock { $0 = setup }
        kernel = library.entry
        return setup
    }

    /// The backend in use, chosen on first need (`auto`, or `DPOHOST_GEMM_BACKEND`) where no
    /// command chose one.
    public static var setup: GemmSetup {
        if let s = setupLock.withLock({ $0 }) { return s }
        do {
            let s = try use(.auto)
            for w in s.warnings { FileHandle.standardError.write(Data((w + "\n").utf8)) }
            return s
        } catch {
            fatalError("error: \(error)")
        }
    }
}

/// A backend that cannot be chosen or loaded; the message names the setting or the library.
public struct GemmBackendError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
