import Foundation
import XCTest
@testable import TensorCore

/// Processor detection and the kernel choice: recorded machines of this project's kind (the two
/// processors docs/performance.md names) and the live one. The rule may never leave a processor's
/// widest vector unit idle.
final class ProcessorFeaturesTests: XCTestCase {
    /// Intel Xeon, family 6 model 207, as /proc/cpuinfo showed it: a model OpenBLAS 0.3.21 does not
    /// know (it falls back to Prescott on its own).
    static let xeon207 = ProcessorFeatures(
        vendor: "GenuineIntel", family: 6, model: 207, name: "Intel(R) Xeon(R) Processor", megahertz: 2100,
        cpuinfoFlags: "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch cpuid_fault ssbd ibrs ibpb stibp ibrs_enhanced fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx_vnni avx512_bf16 wbnoinvd arat avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid bus_lock_detect cldemote movdiri movdir64b fsrm md_clear serialize tsxldtrk ibt amx_bf16 avx512_fp16 amx_tile amx_int8 flush_l1d arch_capabilities")

    /// AMD EPYC VM: AVX2 and FMA, no AVX-512.
    static let epyc = ProcessorFeatures(
        vendor: "AuthenticAMD", family: 25, model: 1, name: "AMD EPYC 7B13", megahertz: 2450,
        cpuinfoFlags: "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw topoext invpcid_single ssbd ibrs ibpb stibp vmmcall fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves clzero xsaveerptr arat npt nrip_save umip vaes vpclmulqdq rdpid fsrm")

    /// AMD EPYC VM, family 26 model 2 (the seventh to ninth rounds of docs/performance.md): AVX-512
    /// with bfloat16, which OpenBLAS 0.3.21 knows on no AMD core.
    static let epycFamily26 = ProcessorFeatures(
        vendor: "AuthenticAMD", family: 26, model: 2, name: "AMD EPYC", megahertz: 2596.12,
        cpuinfoFlags: "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid extd_apicid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw topoext vmmcall fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx_vnni avx512_bf16 clzero xsaveerptr arat avx512vbmi umip avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid fsrm avx512_vp2intersect")

    /// A Skylake-SP server: AVX-512 without the bfloat16 extension.
    static let skylakeServer = ProcessorFeatures(
        vendor: "GenuineIntel", family: 6, model: 85, name: "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", megahertz: nil,
        cpuinfoFlags: "sse sse2 pni ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512cd avx512bw avx512vl")

    static let recorded = [xeon207, epyc, epycFamily26, skylakeServer]

    func testTheXeonModel207HasAVX512AndGetsOpenBLASsCooperlakeKernel() {
        XCTAssertEqual(Self.xeon207.vectorUnit, .avx512)
        XCTAssertEqual(OpenBLASCore.choose(for: Self.xeon207), "Cooperlake")
    }

    func testTheAMDEPYCHasAVX2AndGetsOpenBLASsZenKernel() {
        XCTAssertEqual(Self.epyc.vectorUnit, .avx2FMA)
        XCTAssertEqual(OpenBLASCore.choose(for: Self.epyc), "Zen")
    }

    func testTheAMDEPYCFamily26HasAVX512AndGetsCooperlakeAndOneDNNFirst() {
        XCTAssertEqual(Self.epycFamily26.vectorUnit, .avx512)
        XCTAssertEqual(OpenBLASCore.choose(for: Self.epycFamily26), "Cooperlake")
        XCTAssertEqual(GemmBackendKind.automaticOrder(for: Self.epycFamily26), [.onednn, .openblas])
    }

    func testAnAVX512ProcessorWithoutBFloat16GetsSkylakeX() {
        XCTAssertEqual(OpenBLASCore.choose(for: Self.skylakeServer), "SkylakeX")
    }

    func testTheChosenOpenBLASKernelUsesEveryRecordedProcessorsWidestVectorUnit() {
        for p in Self.recorded {
            let core = OpenBLASCore.choose(for: p)
            XCTAssertEqual(core.map(OpenBLASCore.vectorUnit(ofCore:)), p.vectorUnit, "\(p.name): \(core ?? "none")")
        }
    }

    func testOpenBLASsOwnFallbackOnTheXeonIsAnSSEKernelThatDrawsTheWarning() {
        XCTAssertEqual(OpenBLASCore.vectorUnit(ofCore: "Prescott"), .sse)
        XCTAssertLessThan(OpenBLASCore.vectorUnit(ofCore: "Prescott"), Self.xeon207.vectorUnit)
    }

    func testAutoPrefersOneDNNOnAVX512AndOpenBLASOnAVX2() {
        XCTAssertEqual(GemmBackendKind.automaticOrder(for: Self.xeon207), [.onednn, .openblas])
        XCTAssertEqual(GemmBackendKind.automaticOrder(for: Self.skylakeServer), [.onednn, .openblas])
        XCTAssertEqual(GemmBackendKind.automaticOrder(for: Self.epyc), [.openblas, .onednn])
    }

    func testAVX512CountsOnlyWithAllFiveFoundationExtensions() {
        let partial = ProcessorFeatures(vendor: "GenuineIntel", family: 6, model: 1, name: "", megahertz: nil,
                                        cpuinfoFlags: "avx avx2 fma avx512f")
        XCTAssertEqual(partial.vectorUnit, .avx2FMA)
    }

    func testTheoreticalPeakIsLanesTimesTwoFMAUnitsTimesTwoTimesClockPerCore() throws {
        XCTAssertEqual(try XCTUnwrap(Self.xeon207.theoreticalPeakGFLOPS(cores: 2)), 2 * 16 * 2 * 2 * 2.1, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(Self.epyc.theoreticalPeakGFLOPS(cores: 2)), 2 * 8 * 2 * 2 * 2.45, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(Self.epycFamily26.theoreticalPeakGFLOPS(cores: 2)), 2 * 16 * 2 * 2 * 2.59612, accuracy: 1e-9)
        XCTAssertNil(Self.skylakeServer.theoreticalPeakGFLOPS(cores: 2))
    }

    func testTheClockIsReadFromTheBrandStringWhenCpuinfoHasNone() {
        XCTAssertEqual(ProcessorFeatures.megahertz(fromBrand: "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"), 2400)
        XCTAssertNil(ProcessorFeatures.megahertz(fromBrand: "Intel(R) Xeon(R) Processor"))
    }

    func testTheSummaryNamesTheModelTheClockAndTheVectorUnits() {
        let line = Self.xeon207.summary
        XCTAssertTrue(line.hasPrefix("processor: Intel(R) Xeon(R) Processor (GenuineIntel family 6 model 207, 2.10 GHz)"), line)
        XCTAssertTrue(line.contains("avx512f") && line.contains("avx512_bf16") && line.contains("amx_tile"), line)
    }

    /// cpuid (what dpohost reads) agrees with the kernel's /proc/cpuinfo on the vector units of
    /// the machine the tests run on.
    func testLiveDetectionAgreesWithProcCpuinfo() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = try XCTUnwrap(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
        let recorded = ProcessorFeatures(vendor: "", family: 0, model: 0, name: "", megahertz: nil, cpuinfoFlags: String(flags))
        let live = ProcessorFeatures.current
        XCTAssertEqual(live.vectorUnit, recorded.vectorUnit, live.summary)
        for e: ProcessorFeatures.Extension in [.avx, .avx2, .fma, .avx512f, .avx512bw, .avx512vl, .avx512_bf16] {
            XCTAssertEqual(live.has(e), recorded.has(e), "\(e): \(live.summary)")
        }
    }
}
