// swift-tools-version:6.0
// dpohost: preference training (SFT, DPO, cDPO, IPO, TDPO and the TRL/EasyDeL loss zoo) of causal LMs on the CPU.
// Host modules live in Sources/, plugins in Plugins/, the C ABI in SDK/.
import Foundation
import PackageDescription

/// The kernels' SIMD code is compiled for the build machine's vector unit: AVX2 and FMA (Haswell
/// and later, every Zen) when /proc/cpuinfo lists both, which doubles the lanes of every SIMD8
/// operation (SSE2 splits each in two). `DPOHOST_PORTABLE=1` builds for baseline x86-64, for a
/// binary that must run on another machine.
let vectorUnitFlags: [String] = {
    #if arch(x86_64)
    if ProcessInfo.processInfo.environment["DPOHOST_PORTABLE"] != nil { return [] }
    guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    let flags = Set(line.split(separator: " "))
    return flags.contains("avx2") && flags.contains("fma") ? ["-target-cpu", "haswell", "-DDPOHOST_FMA"] : []
    #else
    return []
    #endif
}()

/// Kernels512 is compiled for AVX-512 on every x86-64 build machine (and runs only where the
/// processor has it).
let avx512Flags: [String] = {
    #if arch(x86_64)
    return ["-target-cpu", "skylake-avx512", "-DDPOHOST_FMA"]
    #else
    return []
    #endif
}()

/// Kernels are the hot path: build them without bounds and exclusivity checks in release.
let kernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"] + vectorUnitFlags, .when(configuration: .release)),
]

let package = Package(
    name: "dpohost",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dpohost", targets: ["dpohost"]),
        // Example plugin written in Swift against the SDK (loaded at run time, never linked).
        .library(name: "ExampleSwiftLoss", type: .dynamic, targets: ["ExampleSwiftLoss"]),
        // Built-in model plugins (found next to the binary as libdph_*.so).
        .library(name: "dph_gpt2", type: .dynamic, targets: ["GPT2Model"]),
        .library(name: "dph_pythia", type: .dynamic, targets: ["PythiaModel"]),
        .library(name: "dph_llama", type: .dynamic, targets: ["LlamaModel"]),
        // GPT-J in plain C against the SDK header: a C plugin is built and loaded like the others.
        .library(name: "dph_gptj", type: .dynamic, targets: ["GPTJModel"]),
        // Built-in losses (docs/spec/losses.md §1-§3), found next to the binary as libdph_*.so.
        .library(name: "dph_sft", type: .dynamic, targets: ["DPHLossSFT"]),
        .library(name: "dph_dpo", type: .dynamic, targets: ["DPHLossDPO"]),
        .library(name: "dph_cdpo", type: .dynamic, targets: ["DPHLossCDPO"]),
        .library(name: "dph_ipo", type: .dynamic, targets: ["DPHLossIPO"]),
        .library(name: "dph_tdpo", type: .dynamic, targets: ["DPHLossTDPO"]),
        // The loss zoo of TRL and EasyDeL (docs/spec/losses.md §6), one plugin each.
        .library(name: "dph_hinge", type: .dynamic, targets: ["DPHLossHinge"]),
        .library(name: "dph_robust", type: .dynamic, targets: ["DPHLossRobust"]),
        .library(name: "dph_exo_pair", type: .dynamic, targets: ["DPHLossEXOPair"]),
        .library(name: "dph_nca_pair", type: .dynamic, targets: ["DPHLossNCAPair"]),
        .library(name: "dph_bco_pair", type: .dynamic, targets: ["DPHLossBCOPair"]),
        .library(name: "dph_sppo_hard", type: .dynamic, targets: ["DPHLossSPPOHard"]),
        .library(name: "dph_aot", type: .dynamic, targets: ["DPHLossAOT"]),
        .library(name: "dph_aot_pair", type: .dynamic, targets: ["DPHLossAOTPair"]),
        .library(name: "dph_apo_zero", type: .dynamic, targets: ["DPHLossAPOZero"]),
        .library(name: "dph_apo_down", type: .dynamic, targets: ["DPHLossAPODown"]),
        .library(name: "dph_discopop", type: .dynamic, targets: ["DPHLossDiscoPOP"]),
        .library(name: "dph_rpo", type: .dynamic, targets: ["DPHLossRPO"]),
        .library(name: "dph_simpo", type: .dynamic, targets: ["DPHLossSimPO"]),
        // Built-in dataset plugins: libdph_<name>.so next to the binary.
        .library(name: "dph_hh", type: .dynamic, targets: ["dph_hh"]),
        .library(name: "dph_shp", type: .dynamic, targets: ["dph_shp"]),
        .library(name: "dph_se", type: .dynamic, targets: ["dph_se"]),
        .library(name: "dph_jsonl", type: .dynamic, targets: ["dph_jsonl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // YAML for config/ files and --config (Hydra-style configuration).
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // Tensor core: storage, shapes and views, kernels (Swift, and a matrix-product library —
        // OpenBLAS or oneDNN — loaded at run time), worker pool, processor detection.
        // cpuid/xgetbv for processor detection (Swift has no inline assembly).
        .target(name: "CProcessorProbe", path: "Sources/CProcessorProbe"),
        // Built as in release in debug builds too: unoptimised SIMD code runs each lane through a
        // call, which made the kernels (and so every test that trains a model) many times slower,
        // and the tests then check the kernels that ship.
        // The row kernels' vector math at 16 lanes (scripts/generate-lanes.sh renders it and
        // TensorCore's 8-lane one from one template), compiled for AVX-512 whatever the build
        // machine has; TensorCore calls it only where the processor has AVX-512 (run-time dispatch).
        .target(name: "Kernels512",
                swiftSettings: [.unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"] + avx512Flags)]),
        .target(name: "TensorCore", dependencies: ["CProcessorProbe", "Kernels512"],
                swiftSettings: [.unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"] + vectorUnitFlags)]),
        // Reverse-mode autograd: the tape and every differentiable op.
        .target(name: "Autograd", dependencies: ["TensorCore"], swiftSettings: kernelFlags),
        // Plugin SDK: the one C header (the ABI) and a stateless Swift layer over it.
        .target(name: "CDPOHostSDK", path: "SDK", exclude: ["Swift", "README.md"],
                publicHeadersPath: "include"),
        .target(name: "DPOHostSDK", dependencies: ["CDPOHostSDK"], path: "SDK/Swift"),
        // Loads plugins (dlopen + ABI check), registry, options, bundles; bridges the SDK to the tape.
        .target(name: "PluginHost", dependencies: ["TensorCore", "Autograd", "CDPOHostSDK"]),
        .target(name: "ExampleSwiftLoss", dependencies: ["DPOHostSDK"], path: "examples/swift-loss",
                exclude: ["README.md"]),
        // Model plugins: each sees only the SDK.
        .target(name: "GPT2Model", dependencies: ["DPOHostSDK"], path: "Plugins/Models/GPT2"),
        .target(name: "PythiaModel", dependencies: ["DPOHostSDK"], path: "Plugins/Models/Pythia"),
        .target(name: "LlamaModel", dependencies: ["DPOHostSDK"], path: "Plugins/Models/Llama"),
        .target(name: "GPTJModel", dependencies: ["CDPOHostSDK"], path: "Plugins/Models/GPTJ", publicHeadersPath: ".",
                cSettings: [.unsafeFlags(["-std=gnu11", "-Wall", "-Werror"])], linkerSettings: [.linkedLibrary("m")]),
        // Built-in loss plugins: shared preference-loss pieces, then one target per plugin.
        .target(name: "DPHLossKit", dependencies: ["DPOHostSDK"], path: "Plugins/Losses/Common"),
        .target(name: "DPHLossSFT", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/SFT"),
        .target(name: "DPHLossDPO", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/DPO"),
        .target(name: "DPHLossCDPO", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/CDPO"),
        .target(name: "DPHLossIPO", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/IPO"),
        .target(name: "DPHLossTDPO", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/TDPO"),
        .target(name: "DPHLossHinge", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/Hinge"),
        .target(name: "DPHLossRobust", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/Robust"),
        .target(name: "DPHLossEXOPair", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/EXOPair"),
        .target(name: "DPHLossNCAPair", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/NCAPair"),
        .target(name: "DPHLossBCOPair", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/BCOPair"),
        .target(name: "DPHLossSPPOHard", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/SPPOHard"),
        .target(name: "DPHLossAOT", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/AOT"),
        .target(name: "DPHLossAOTPair", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/AOTPair"),
        .target(name: "DPHLossAPOZero", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/APOZero"),
        .target(name: "DPHLossAPODown", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/APODown"),
        .target(name: "DPHLossDiscoPOP", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/DiscoPOP"),
        .target(name: "DPHLossRPO", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/RPO"),
        .target(name: "DPHLossSimPO", dependencies: ["DPOHostSDK", "DPHLossKit"], path: "Plugins/Losses/SimPO"),
        // Dataset plugins: a stateless support library (zlib line reader, JSON rows, record table,
        // HTML stripping) linked into each plugin, never into the host.
        .systemLibrary(name: "CZlib", path: "Plugins/Datasets/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "DatasetSupport", dependencies: ["DPOHostSDK", "CZlib"], path: "Plugins/Datasets/Support"),
        .target(name: "dph_hh", dependencies: ["DatasetSupport", "DPOHostSDK"], path: "Plugins/Datasets/HH"),
        .target(name: "dph_shp", dependencies: ["DatasetSupport", "DPOHostSDK"], path: "Plugins/Datasets/SHP"),
        .target(name: "dph_se", dependencies: ["DatasetSupport", "DPOHostSDK"], path: "Plugins/Datasets/SE"),
        .target(name: "dph_jsonl", dependencies: ["DatasetSupport", "DPOHostSDK"], path: "Plugins/Datasets/JSONL"),
        // Checkpoints: safetensors (mmap, validated), atomic writes, Hugging Face model directories.
        .target(name: "Checkpoint", dependencies: ["TensorCore"]),
        // Tokenizers: byte-level BPE (GPT-2, GPT-NeoX) in Swift; SentencePiece (Llama) through a C++ shim.
        .target(name: "CSentencePiece", linkerSettings: [.linkedLibrary("sentencepiece")]),
        .target(name: "Tokenizers", dependencies: ["CSentencePiece"]),
        // ChatTemplate: the Jinja2 subset of models' chat templates, rendered as transformers does.
        .target(name: "ChatTemplate"),
        // DataPipeline: records -> tokenized, truncated, padded batches; bit-exact shuffling.
        .target(name: "DataPipeline", dependencies: ["TensorCore", "Tokenizers", "ChatTemplate"]),
        // Collectives over Open MPI (world size 1 without mpirun); CMPI reaches mpi.h's macros.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .target(name: "Distributed", dependencies: ["CMPI"]),
        // Training: configuration, models, losses, optimizers, the trainer, reports.
        .target(name: "Training", dependencies: [
            "TensorCore", "Autograd", "Checkpoint", "PluginHost", "Tokenizers", "DataPipeline", "Distributed", "ChatTemplate",
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: kernelFlags),
        // The command-line tool.
        .executableTarget(name: "dpohost", dependencies: [
            "TensorCore", "Autograd", "PluginHost", "DataPipeline", "Tokenizers", "Training", "Checkpoint", "ChatTemplate",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "TensorCore", "Checkpoint"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "TensorCore"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"]),
        .testTarget(name: "ChatTemplateTests", dependencies: ["ChatTemplate"]),
        .testTarget(name: "DataTests", dependencies: ["DataPipeline", "Tokenizers", "TensorCore"], exclude: ["Golden"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Autograd", "TensorCore", "Checkpoint"], exclude: ["Golden"]),
        .testTarget(name: "ModelTests", dependencies: ["Training", "PluginHost", "Checkpoint", "Autograd", "TensorCore", "Tokenizers"]),
        .testTarget(name: "ConfigTests", dependencies: ["Training"]),
        .testTarget(name: "TrainerTests", dependencies: ["Training", "Distributed", "Checkpoint"], exclude: ["TRLGolden"]),
        .testTarget(name: "LossPluginTests", dependencies: ["Training", "PluginHost", "Autograd", "TensorCore", "Checkpoint"]),
        .testTarget(name: "LossZooTests", dependencies: ["Training", "PluginHost", "Autograd", "TensorCore"], exclude: ["Golden"]),
        .testTarget(name: "DatasetPluginTests", dependencies: ["PluginHost", "Training", "DataPipeline", "Tokenizers", "TensorCore", "DatasetSupport", "ChatTemplate"]),
        .testTarget(name: "PluginHostTests", dependencies: ["PluginHost", "Autograd", "TensorCore", "CDPOHostSDK"]),
    ]
)

/// `make sanitize` builds only the test targets it runs (DPOHOST_TEST_TARGETS, names separated by
/// spaces), so the sanitizer builds skip the model and training suites (README, "What dpohost
/// guarantees").
if let only = ProcessInfo.processInfo.environment["DPOHOST_TEST_TARGETS"] {
    let kept = Set(only.split(separator: " ").map(String.init))
    package.targets.removeAll { $0.type == .test && !kept.contains($0.name) }
}
