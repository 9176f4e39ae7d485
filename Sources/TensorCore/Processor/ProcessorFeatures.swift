import CProcessorProbe
import Foundation

/// What the processor running dpohost can do, read at run time (cpuid and xgetbv), never assumed
/// from the build machine: machines of one kind have had different processors (docs/performance.md).
public struct ProcessorFeatures: Sendable, Equatable {
    /// The instruction-set extensions that decide which kernels can run, named as Linux's
    /// /proc/cpuinfo names them (so a recorded flags line reads back into the same set).
    public enum Extension: String, CaseIterable, Sendable, Comparable {
        case sse3 = "pni", ssse3, sse4_1, sse4_2, avx, avx2, fma, f16c
        case avx512f, avx512dq, avx512cd, avx512bw, avx512vl, avx512_vnni, avx512_bf16, avx512_fp16
        case amx_tile, amx_bf16

        public static func < (a: Extension, b: Extension) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
        /// The name people know it by (`pni` is SSE3).
        public var displayName: String { self == .sse3 ? "sse3" : rawValue }
    }

    /// `GenuineIntel`, `AuthenticAMD`, ... ("" where unknown).
    public var vendor: String
    public var family: Int
    public var model: Int
    /// The marketing name (cpuid's brand string), e.g. "Intel(R) Xeon(R) Processor".
    public var name: String
    /// The clock where it can be read (/proc/cpuinfo's `cpu MHz`, else an "@ 2.40GHz" in the name).
    public var megahertz: Double?
    /// Extensions that the processor has and the operating system enabled (AVX-512 counts only
    /// when XCR0 says its registers are saved).
    public var extensions: Set<Extension>

    public func has(_ e: Extension) -> Bool { extensions.contains(e) }

    /// The widest vector unit the processor offers for float32 multiply-adds.
    public var vectorUnit: VectorUnit {
        if [.avx512f, .avx512dq, .avx512cd, .avx512bw, .avx512vl].allSatisfy(has) { return .avx512 }
        if has(.avx2) && has(.fma) { return .avx2FMA }
        if has(.avx) { return .avx }
        return .sse
    }

    /// Theoretical float32 peak in GFLOP/s of `cores` cores: lanes × 2 (multiply and add) × FMA
    /// units × clock. The number of FMA units per core cannot be read; 2 is assumed for AVX2 and
    /// AVX-512 (one per port on every such core since Haswell, two 512-bit ones on server parts).
    public func theoreticalPeakGFLOPS(cores: Int) -> Double? {
        guard let mhz = megahertz, mhz > 0 else { return nil }
        let perCycle: Double
        switch vectorUnit {
        case .avx512: perCycle = 16 * 2 * 2
        case .avx2FMA: perCycle = 8 * 2 * 2
        case .avx: perCycle = 8 * 2   // separate multiply and add ports
        case .sse: perCycle = 4 * 2
        }
        return perCycle * Double(cores) * mhz / 1000
    }

    /// One line for the start of `train`, `bench` and `selfcheck`.
    public var summary: String {
        var line = "processor: \(name.isEmpty ? "unknown" : name)"
        var details: [String] = []
        if !vendor.isEmpty { details.append("\(vendor) family \(family) model \(model)") }
        if let mhz = megahertz { details.append(String(format: "%.2f GHz", mhz / 1000)) }
        if !details.isEmpty { line += " (" + details.joined(separator: ", ") + ")" }
        let shown = extensions.filter { $0 >= .avx }.sorted().map(\.displayName)
        line += "; vector units: " + (shown.isEmpty ? "sse only" : shown.joined(separator: " "))
        return line
    }

    /// The processor this process runs on.
    public static let current: ProcessorFeatures = detect()

    static func detect() -> ProcessorFeatures {
        var r = [UInt32](repeating: 0, count: 4)
        guard dph_cpuid(0, 0, &r) != 0 else {
            return ProcessorFeatures(vendor: "", family: 0, model: 0, name: cpuinfoField("model name") ?? "",
                                     megahertz: cpuinfoMegahertz(name: ""), extensions: [])
        }
        let maxLeaf = r[0]
        let vendor = ascii([r[1], r[3], r[2]])
        dph_cpuid(1, 0, &r)
        let eax1 = r[0], ecx1 = r[2]
        let baseFamily = Int((eax1 >> 8) & 0xF), baseModel = Int((eax1 >> 4) & 0xF)
        let family = baseFamily == 0xF ? baseFamily + Int((eax1 >> 20) & 0xFF) : baseFamily
        let model = (baseFamily == 0x6 || baseFamily == 0xF) ? baseModel | Int((eax1 >> 16) & 0xF) << 4 : baseModel
        var ext: Set<Extension> = []
        func bit(_ word: UInt32, _ n: UInt32, _ e: Extension) { if word & (1 << n) != 0 { ext.insert(e) } }
        bit(ecx1, 0, .sse3); bit(ecx1, 9, .ssse3); bit(ecx1, 19, .sse4_1); bit(ecx1, 20, .sse4_2)
        // Registers the OS saves: AVX needs XMM+YMM (bits 1, 2), AVX-512 also opmask and ZMM
        // (5, 6, 7), AMX the tile state (17, 18).
        let xcr0: UInt64 = ecx1 & (1 << 27) != 0 ? dph_xgetbv0() : 0
        let avxState = xcr0 & 0x6 == 0x6, avx512State = xcr0 & 0xE6 == 0xE6
        let amxState = xcr0 & 0x60000 == 0x60000
        if avxState {
            bit(ecx1, 28, .avx); bit(ecx1, 12, .fma); bit(ecx1, 29, .f16c)
        }
        if maxLeaf >= 7 {
            dph_cpuid(7, 0, &r)
            let ebx7 = r[1], ecx7 = r[2], edx7 = r[3], maxSub = r[0]
            if avxState { bit(ebx7, 5, .avx2) }
            if avx512State {
                bit(ebx7, 16, .avx512f); bit(ebx7, 17, .avx512dq); bit(ebx7, 28, .avx512cd)
                bit(ebx7, 30, .avx512bw); bit(ebx7, 31, .avx512vl); bit(ecx7, 11, .avx512_vnni)
                bit(edx7, 23, .avx512_fp16)
                if maxSub >= 1 { dph_cpuid(7, 1, &r); bit(r[0], 5, .avx512_bf16) }
            }
            if amxState { bit(edx7, 24, .amx_tile); bit(edx7, 22, .amx_bf16) }
        }
        var name = ""
        dph_cpuid(0x8000_0000, 0, &r)
        if r[0] >= 0x8000_0004 {
            var words: [UInt32] = []
            for leaf in UInt32(0x8000_0002)...0x8000_0004 {
                dph_cpuid(leaf, 0, &r)
                words += r
            }
            name = ascii(words).trimmingCharacters(in: .whitespaces)
        }
        return ProcessorFeatures(vendor: vendor, family: family, model: model, name: name,
                                 megahertz: cpuinfoMegahertz(name: name), extensions: ext)
    }

    private static func ascii(_ words: [UInt32]) -> String {
        var bytes: [UInt8] = []
        for w in words { for i in 0..<4 { bytes.append(UInt8((w >> (8 * UInt32(i))) & 0xFF)) } }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// /proc/cpuinfo's `cpu MHz` (the first processor), else the "@ 2.40GHz" of the brand string.
    static func cpuinfoMegahertz(name: String) -> Double? {
        if let mhz = cpuinfoField("cpu MHz").flatMap(Double.init), mhz > 0 { return mhz }
        return megahertz(fromBrand: name)
    }

    static func megahertz(fromBrand name: String) -> Double? {
        guard let at = name.range(of: "@ ") else { return nil }
        let tail = name[at.upperBound...]
        guard let ghz = tail.range(of: "GHz") else { return nil }
        return Double(tail[..<ghz.lowerBound].trimmingCharacters(in: .whitespaces)).map { $0 * 1000 }
    }

    static func cpuinfoField(_ key: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == key {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}

// In an extension, so that the struct keeps its memberwise initializer (vendor, family, model,
// name, megahertz, extensions), which detection and the tests use.
extension ProcessorFeatures {
    /// A recorded machine: /proc/cpuinfo's `flags` line (unknown flags are ignored).
    public init(vendor: String, family: Int, model: Int, name: String, megahertz: Double?, cpuinfoFlags: String) {
        let names = Set(cpuinfoFlags.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
        self.init(vendor: vendor, family: family, model: model, name: name, megahertz: megahertz,
                  extensions: Set(Extension.allCases.filter { names.contains($0.rawValue) }))
    }
}

/// Vector-unit generations, ordered: a kernel for a lower one leaves the wider lanes idle.
public enum VectorUnit: Int, Comparable, Sendable, CustomStringConvertible {
    case sse, avx, avx2FMA, avx512

    public static func < (a: VectorUnit, b: VectorUnit) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .sse: "SSE"
        case .avx: "AVX"
        case .avx2FMA: "AVX2+FMA"
        case .avx512: "AVX-512"
        }
    }
}
