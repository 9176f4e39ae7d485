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
        // Plain helpers the host modules share, with no dependencies: string literals quoted as
        // JSON, YAML or Python write them, the "did you mean" of mistyped keys, and the
        // `<path>: <problem>` message of an error about a file.
        .target(name: "HostUtility"),
        // Built as in release in debug builds too: unoptimised SIMD code runs each lane through a
        // call, which made the kernels (and so every test that trains a model) many times slower,
        // and the tests then check the kernels that ship.
        // The row kernels' vector math at 16 lanes (TensorCore's RowLanes.swift, linked here and
        // compiled again), compiled for AVX-512 whatever the build machine has; TensorCore calls
        // it only where the processor has AVX-512 (run-time dispatch).
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
        .target(name: "PluginHost", dependencies: ["HostUtility", "TensorCore", "Autograd", "CDPOHostSDK", "DataPipeline"]),
        .target(name: "ExampleSwiftLoss", dependencies: ["DPOHostSDK"], path: "examples/swift-loss",
                exclude: ["README.md"]),
        // Model plugins: each sees only the SDK.
        .target(name: "GPT2Model", dependencies: ["DPOHostSDK"], path: "Plugins/Models/GPT2"),
        .target(name: "PythiaModel", dependencies: ["DPOHostSDK"], path: "Plugins/Models/Pythia"),
        .target(name: "LlamaModel", dependencies: ["DPOHostSDK"], path: "Plugins/Models/Llama"),
        .target(name: "GPTJModel", dependencies: ["CDPOHostSDK"], path: "Plugins/Models/GPTJ", publicHeadersPath: ".",
                cSettings: [.unsafeFlags(["-std=gnu11", "-Wall", "-Werror"])], linkerSettings: [.linkedLibrary("m")]),
        // Built-in loss plugins: the shared preference-loss pieces (their targets are added below).
        .target(name: "DPHLossKit", dependencies: ["DPOHostSDK"], path: "Plugins/Losses/Common"),
        // Dataset plugins: a stateless support library (zlib line reader, JSON rows, record table,
        // HTML stripping) linked into each plugin, never into the host.
        .systemLibrary(name: "CZlib", path: "Plugins/Datasets/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "DatasetSupport", dependencies: ["DPOHostSDK", "CZlib"], path: "Plugins/Datasets/Support"),
        .target(name: "dph_hh", dependencies: ["DatasetSupport", "DPOHostSDK"], path: "Plugins/Datasets/HH"),
        .target(name: "dph_shp", dependencies: ["DatasetSupport", "DPOHostSDK"], path: "Plugins/Datasets/SHP"),
        .target(name: "dph_se", dependencies: ["DatasetSupport", "DPOHostSDK"], path: "Plugins/Datasets/SE"),
        .target(name: "dph_jsonl", dependencies: ["DatasetSupport", "DPOHostSDK"], path: "Plugins/Datasets/JSONL"),
        // Checkpoints: safetensors (mmap, validated), atomic writes, Hugging Face model directories.
        .target(name: "Checkpoint", dependencies: ["HostUtility", "TensorCore"]),
        // Tokenizers: byte-level BPE (GPT-2, GPT-NeoX) in Swift; SentencePiece (Llama) through a C++ shim.
        .target(name: "CSentencePiece", linkerSettings: [.linkedLibrary("sentencepiece")]),
        .target(name: "Tokenizers", dependencies: ["CSentencePiece"]),
        // ChatTemplate: the Jinja2 subset of models' chat templates, rendered as transformers does.
        .target(name: "ChatTemplate", dependencies: ["HostUtility"]),
        // DataPipeline: records -> tokenized, truncated, padded batches; bit-exact shuffling.
        .target(name: "DataPipeline", dependencies: ["TensorCore", "Tokenizers", "ChatTemplate"]),
        // Training: configuration, reporting, the model, the objective, the parallel machinery and
        // the loop, one module each, dependencies pointing down (docs/architecture.md).
        // The run's configuration, pure: config/ YAML, the user's file and overrides, TRL's flags
        // -> a typed TrainingConfig (docs/architecture.md).
        .target(name: "Configuration", dependencies: ["HostUtility", "TensorCore", "DataPipeline", .product(name: "Yams", package: "Yams")]),
        // What a run writes as it goes: metrics.jsonl, TensorBoard event files, the MLflow store,
        // the progress line and the HTML report.
        .target(name: "Reporting", dependencies: ["Configuration", "Checkpoint"]),
        // Collectives over Open MPI (world size 1 without mpirun); CMPI reaches mpi.h's macros.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        // The language model: a model plugin with its weights, generation, LoRA, export, 16-bit
        // and compact weights, the shared prompt.
        .target(name: "Model", dependencies: [
            "Configuration", "TensorCore", "Autograd", "PluginHost", "Checkpoint", "DataPipeline",
        ], swiftSettings: kernelFlags),
        // The objective: loss plugins as the host sees them (inputs, combined losses, LD-DPO, WPO).
        .target(name: "Objective", dependencies: ["Configuration", "TensorCore", "Autograd", "PluginHost"],
                swiftSettings: kernelFlags),
        // Every collective and sharding concern: the MPI world, communicator, collective queue and
        // watchdog, FSDP's sharded parameters, tensor parallelism's split linears.
        .target(name: "Parallel", dependencies: ["CMPI", "Model", "TensorCore", "Autograd", "PluginHost"],
                swiftSettings: kernelFlags),
        // The one training loop and its strategies (Basic, FSDP, tensor-parallel), optimizers and
        // schedules, the run's checkpoints, the data sources and TrainingSession (the run's wiring).
        .target(name: "Training", dependencies: [
            "Configuration", "Reporting", "Model", "Objective", "Parallel", "TensorCore", "Autograd", "Checkpoint", "PluginHost",
            "Tokenizers", "DataPipeline", "ChatTemplate",
        ], swiftSettings: kernelFlags),
        // The command-line tool.
        .executableTarget(name: "dpohost", dependencies: [
            "Configuration", "Reporting", "Model", "Objective", "TensorCore", "Autograd", "PluginHost", "DataPipeline", "Tokenizers",
            "Training", "Checkpoint", "ChatTemplate",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // What the test targets share: one process runner and the C plugin builder (no XCTest).
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "HostUtilityTests", dependencies: ["HostUtility"]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "TensorCore", "Checkpoint"]),
        .testTarget(name: "CheckpointTests", dependencies: ["TestSupport", "Checkpoint", "TensorCore"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers"]),
        .testTarget(name: "ChatTemplateTests", dependencies: ["ChatTemplate"]),
        .testTarget(name: "DataTests", dependencies: ["DataPipeline", "Tokenizers", "TensorCore"], exclude: ["Golden"]),
        .testTarget(name: "TrainingTests", dependencies: ["TestSupport", "Reporting", "Model", "Training", "Autograd", "TensorCore", "Checkpoint"], exclude: ["Golden"]),
        .testTarget(name: "ModelTests", dependencies: ["TestSupport", "Configuration", "Model", "Objective", "Training", "PluginHost", "Checkpoint", "Autograd", "TensorCore"]),
        .testTarget(name: "ConfigTests", dependencies: ["Configuration"]),
        .testTarget(name: "TrainerTests", dependencies: ["TestSupport", "Configuration", "Model", "Parallel", "Training", "Reporting", "PluginHost",
                                                    "Checkpoint", "TensorCore"], exclude: ["TRLGolden"]),
        .testTarget(name: "LossPluginTests", dependencies: ["TestSupport", "Model", "Objective", "Training", "PluginHost", "Autograd", "TensorCore", "Checkpoint"]),
        .testTarget(name: "LossZooTests", dependencies: ["Configuration", "Objective", "Training", "PluginHost", "Autograd", "TensorCore"], exclude: ["Golden"]),
        .testTarget(name: "DatasetPluginTests", dependencies: ["TestSupport", "PluginHost", "Training", "DataPipeline", "Tokenizers", "TensorCore", "DatasetSupport", "ChatTemplate"]),
        // The SDK's Swift layer as a plugin uses it, against fake host tables.
        .testTarget(name: "SDKTests", dependencies: ["DPOHostSDK", "DPHLossKit", "CDPOHostSDK"]),
        .testTarget(name: "PluginHostTests", dependencies: ["TestSupport", "PluginHost", "DataPipeline", "Autograd", "TensorCore", "CDPOHostSDK"]),
    ]
)

/// Built-in losses (docs/spec/losses.md): every folder of Plugins/Losses but Common is one loss,
/// target `DPHLoss_<folder>` and dynamic library `dph_<folder>` (found next to the binary as
/// libdph_<folder>.so), so adding a loss is adding its folder. Sorted, for a stable order.
/// SwiftPM caches this manifest's evaluation by its text: after adding or removing a folder, run
/// `swift package purge-cache` once (docs/recipes.md, "Adding a loss").
let lossFolders: [String] = {
    let root = URL(fileURLWithPath: Context.packageDirectory).appendingPathComponent("Plugins/Losses")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
    return names.filter { name in
        var isFolder: ObjCBool = false
        let path = root.appendingPathComponent(name).path
        return name != "Common" && !name.hasPrefix(".") && FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
            && isFolder.boolValue
    }.sorted()
}()
for folder in lossFolders {
    package.products.append(.library(name: "dph_\(folder)", type: .dynamic, targets: ["DPHLoss_\(folder)"]))
    package.targets.append(.target(name: "DPHLoss_\(folder)", dependencies: ["DPOHostSDK", "DPHLossKit"],
                                   path: "Plugins/Losses/\(folder)"))
}

/// `make sanitize` builds only the test targets it runs (DPOHOST_TEST_TARGETS, names separated by
/// spaces), so the sanitizer builds skip the model and training suites (README, "What dpohost
/// guarantees").
if let only = ProcessInfo.processInfo.environment["DPOHOST_TEST_TARGETS"] {
    let kept = Set(only.split(separator: " ").map(String.init))
    package.targets.removeAll { $0.type == .test && !kept.contains($0.name) }
}
