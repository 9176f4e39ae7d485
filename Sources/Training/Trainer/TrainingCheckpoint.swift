import Checkpoint
import DataPipeline
import Foundation
import Model
import TensorCore

/// What a checkpoint records besides weights, so a resumed run continues exactly.
public struct TrainerState: Codable, Equatable, Sendable {
    public var examples: Int
    public var updates: Int
    public var optimizer: String
    public var optimizerSteps: Int
    public var data: IteratorPosition
    public var samplingSeed: UInt64
    public var evalMetrics: [String: Double]
    /// The matrix-product library that computed the run so far (`openblas`, `onednn`): a resume
    /// keeps it, since another library rounds differently. Absent in older checkpoints.
    public var gemmBackend: String?
    /// Whether the run packs shared prompts with their rows wherever a model's plugin allows it
    /// (`ModelPlugin.packsSharedPrompt` of the policy or the reference): a resume keeps it, since
    /// the packed products round differently. Absent in checkpoints of builds that ran every
    /// shared prompt as a forward of its own.
    public var packedPrompts: Bool?

    public init(examples: Int, updates: Int, optimizer: String, optimizerSteps: Int, data: IteratorPosition,
                samplingSeed: UInt64, evalMetrics: [String: Double], gemmBackend: String? = nil, packedPrompts: Bool? = nil) {
        self.examples = examples; self.updates = updates; self.optimizer = optimizer
        self.optimizerSteps = optimizerSteps; self.data = data; self.samplingSeed = samplingSeed
        self.evalMetrics = evalMetrics; self.gemmBackend = gemmBackend; self.packedPrompts = packedPrompts
    }

    /// The state of the newest complete checkpoint of the run directory `resume`, and its folder
    /// (read once when a run resumes; what it computed with is kept).
    public static func newest(in resume: String?) -> (folder: URL, state: TrainerState)? {
        guard let resume, let folder = CheckpointStore(runDirectory: URL(fileURLWithPath: resume)).newestComplete(),
              let data = try? Data(contentsOf: folder.appendingPathComponent("trainer_state.json")),
              let state = try? JSONDecoder().decode(TrainerState.self, from: data) else { return nil }
        return (folder, state)
    }
}

/// How a resumed run runs its shared prompts: as the run it continues did, so that it gives the
/// same numbers as an uninterrupted run.
public enum ResumedPromptPacking {
    /// Turns packing off on `models` when the checkpoint was computed without it; the line to log
    /// when that changes how this run's shared prompts run (`sharing`: `share_prompt`).
    public static func apply(resumed: (folder: URL, state: TrainerState)?, to models: [LanguageModel], sharing: Bool) -> String? {
        guard let (folder, state) = resumed, state.packedPrompts != true else { return nil }
        let packing = models.filter(\.plugin.packsSharedPrompt)
        for model in packing { model.plugin.packsSharedPrompt = false }
        guard sharing, !packing.isEmpty else { return nil }
        return "resuming with each shared prompt as a forward of its own, as \(folder.lastPathComponent) was computed"
    }

    /// What a checkpoint records: whether any of `models` packs its shared prompts.
    public static func recorded(for models: [LanguageModel]) -> Bool {
        models.contains(where: \.plugin.packsSharedPrompt)
    }
}

/// The library a resumed run uses: a run continues on the library that computed it, so that it
/// gives the same numbers as an uninterrupted run.
public enum ResumedGemmBackend {
    /// `choice` after `DPOHOST_GEMM_BACKEND`, and the line to log: `auto` takes the checkpoint's
    /// library; an explicit choice that differs from it stands, with a warning.
    public static func choose(_ choice: GemmBackendChoice, resumed: (folder: URL, state: TrainerState)?) throws -> (GemmBackendChoice, String?) {
        let resolved = try choice.resolvingEnvironment()
        guard let (folder, state) = resumed, let saved = state.gemmBackend,
              let savedChoice = GemmBackendChoice(rawValue: saved) else { return (resolved, nil) }
        if resolved == .auto {
            return (savedChoice, "resuming with gemm_backend=\(saved), the library \(folder.lastPathComponent) was computed with")
        }
        if resolved != savedChoice {
            return (resolved, "warning: \(folder.lastPathComponent) was computed with gemm_backend=\(saved) and this run uses \(resolved.rawValue): its numbers will differ from an uninterrupted run's in float rounding")
        }
        return (resolved, nil)
    }
}

public enum CheckpointStoreError: Error, CustomStringConvertible {
    case noCheckpoint(String)
    case unreadable(file: String, detail: String)
    public var description: String {
        switch self {
        case let .noCheckpoint(dir): return "\(dir): no LATEST checkpoint to resume from"
        case let .unreadable(file, detail): return "\(file): \(detail)"
        }
    }
}

/// Checkpoint folders in a run directory, as the reference lays them out: `step-N/` (N =
/// examples seen) and `LATEST`. A folder is written under a temporary name and renamed into
/// place only when complete; `LATEST` is a symbolic link replaced by an atomic rename. So a
/// kill at any moment leaves the previous complete checkpoint as LATEST.
///
/// Each folder is also a Hugging Face model directory (`policy.safetensors` + config.json +
/// tokenizer files): `model.name_or_path=`, `model.archive=` and `dpohost export` take it.
public struct CheckpointStore {
    public let runDirectory: URL

    public init(runDirectory: URL) { self.runDirectory = runDirectory }

    public var latest: URL { runDirectory.appendingPathComponent("LATEST") }

    public static let referenceFileName = "reference.safetensors"

    /// Every tensor of one safetensors file, copied into memory.
    public static func tensors(inFile path: String) throws -> [String: Tensor] {
        try SafeTensorsFile(path: path).copiedTensors()
    }

    /// Writes `step-<examples>` and points LATEST at it.
    @discardableResult
    public func save(policy: [String: Tensor], optimizerState: [String: Tensor], state: TrainerState,
                     reference: [String: Tensor]? = nil, adapter: (tensors: [String: Tensor], config: String)? = nil,
                     modelConfigText: String, sideFilesFrom modelDirectory: String) throws -> URL {
        let fm = FileManager.default
        let name = Self.folderName(examples: state.examples)
        let final = runDirectory.appendingPathComponent(name)
        // A new folder is built under a temporary name and renamed into place when complete. A
        // folder that already exists (the same step saved again, e.g. a resumed run that had
        // nothing left to do) is refreshed file by file, each file replaced atomically, so the
        // folder LATEST points to never disappears.
        let exists = fm.fileExists(atPath: final.path)
        let target = exists ? final : runDirectory.appendingPathComponent(".\(name).partial-\(UUID().uuidString.prefix(8))")
        try fm.createDirectory(at: target, withIntermediateDirectories: true)
        do {
            try ModelExport.write(weights: policy, configText: modelConfigText, sideFilesFrom: modelDirectory,
                                  to: target.path, weightsFileName: ModelDirectory.checkpointFileName)
            try SafeTensorsWriter(tensors: optimizerState).write(to: target.appendingPathComponent("optimizer.safetensors").path)
            if let adapter {   // LoRA: PEFT's adapter folder files, which transformers + peft load
                try SafeTensorsWriter(tensors: adapter.tensors).write(to: target.appendingPathComponent("adapter_model.safetensors").path)
                try AtomicFile.write(to: target.appendingPathComponent("adapter_config.json").path) { try $0.write(Array(adapter.config.utf8)) }
            }
            if let reference {   // a reference synced toward the policy (TR-DPO) is part of the state
                try SafeTensorsWriter(tensors: reference).write(to: target.appendingPathComponent(Self.referenceFileName).path)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let json = try encoder.encode(state)
            try AtomicFile.write(to: target.appendingPathComponent("trainer_state.json").path) { try $0.write(Array(json)) }
            if !exists { try fm.moveItem(at: target, to: final) }
        } catch {
            // A failed write (a full disk) leaves no half checkpoint behind to fill it further.
            if !exists { try? fm.removeItem(at: target) }
            throw error
        }
        // Replace the LATEST link atomically: a new link under a temporary name, renamed over it.
        let link = runDirectory.appendingPathComponent(".LATEST-\(UUID().uuidString.prefix(8))")
        try fm.createSymbolicLink(atPath: link.path, withDestinationPath: name)
        guard rename(link.path, latest.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? fm.removeItem(at: link)
            throw CheckpointStoreError.unreadable(file: latest.path, detail: "could not replace LATEST with a link to \(name): \(reason)")
        }
        return final
    }

    /// The state and optimizer tensors of the LATEST checkpoint.
    public func loadLatest() throws -> (folder: URL, state: TrainerState, optimizer: [String: Tensor]) {
        guard let folder = newestComplete() else { throw CheckpointStoreError.noCheckpoint(runDirectory.path) }
        let stateFile = folder.appendingPathComponent("trainer_state.json")
        let state: TrainerState
        do { state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: stateFile)) } catch {
            throw CheckpointStoreError.unreadable(file: stateFile.path, detail: "not a trainer state (\(error))")
        }
        return (folder, state, try Self.tensors(inFile: folder.appendingPathComponent("optimizer.safetensors").path))
    }

    /// The folder of the checkpoint saved after `examples` examples.
    public static func folderName(examples: Int) -> String { "step-\(examples)" }

    /// Removes the `.step-N.partial-*` folders that a kill during `save` left: never complete, so
    /// never read, and each can be a checkpoint in size.
    public func removeIncompleteCheckpoints() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory.path)) ?? []
        for name in names where name.hasPrefix(".step-") && name.contains(".partial-") {
            let url = runDirectory.appendingPathComponent(name)
            do { try FileManager.default.removeItem(at: url) } catch {
                throw CheckpointStoreError.unreadable(file: url.path, detail: "could not remove this incomplete checkpoint (\(error.localizedDescription))")
            }
        }
    }

    /// The newest complete checkpoint: the `step-N` folder with the largest N. Folders appear only
    /// once complete (renamed into place), so this is right even when a kill struck between the
    /// rename and the update of the LATEST link, which is then only a convenience for users.
    public func newestComplete() -> URL? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory.path)) ?? []
        let steps = names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("step-"), let n = Int(name.dropFirst(5)),
                  FileManager.default.fileExists(atPath: runDirectory.appendingPathComponent(name + "/trainer_state.json").path)
            else { return nil }
            return (n, name)
        }
        return steps.max { $0.0 < $1.0 }.map { runDirectory.appendingPathComponent($0.1) }
    }

    /// The policy weights of a checkpoint folder (for `model.archive=`).
    /// `folder` may also be a single weights file: a `.safetensors` file or a PyTorch checkpoint
    /// such as the DPO reference's `LATEST/policy.pt` archive.
    public static func weights(in folder: String) throws -> [String: Tensor] {
        try ModelDirectory.weightFile(at: folder).copiedTensors()
    }
}
