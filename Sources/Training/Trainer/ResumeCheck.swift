import Configuration
import Foundation

/// What a resumed run must share with the run it continues: the settings that give the saved
/// state its meaning (the data order and the examples counted, what the weights are and what they
/// were trained on). Extending `n_examples` or `n_epochs` is what resuming is for; other options
/// (learning rate, logging, threads) may change.
public enum ResumeCheck {
    /// The settings compared, by config key, as their text in the effective config.
    static let keys = ["seed", "data_seed", "batch_size", "gradient_accumulation_steps", "datasets", "dataset_options", "loss",
                       "model.name_or_path", "model.archive", "model.reference_name_or_path", "max_length", "max_prompt_length", "max_completion_length",
                       "truncation_mode", "tokenization", "chat_template", "ld_alpha", "use_weighting"]

    /// Refuses, naming the first key whose value differs, a resume whose config differs from the
    /// run directory's `config.yaml` (written when the run started) in one of `keys`.
    public static func check(current: ConfigValue, runDirectory: URL) throws {
        let file = runDirectory.appendingPathComponent("config.yaml")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw ConfigError.invalidValue(key: "resume", value: runDirectory.path,
                                           reason: "no config.yaml there: not a dpohost run directory")
        }
        let saved = try YAMLReader.read(file: file)
        for key in keys {
            let path = key.split(separator: ".").map(String.init)
            // A key a run of an earlier version did not write counts as null.
            let was = saved.value(at: path) ?? .null, now = current.value(at: path) ?? .null
            guard was == now else {
                let text = { (v: ConfigValue) in v.displayText }
                throw ConfigError.invalidValue(key: key, value: text(now),
                                               reason: "the run being resumed used \(text(was)) (\(file.path)); a resumed run keeps "
                                                   + "seed, batch and accumulation, datasets, loss, model and lengths (extend n_examples or n_epochs, or start a new run)")
            }
        }
    }
}

extension ResumeCheck {
    /// Refuses a checkpoint whose counters contradict each other or its folder's name (an edited
    /// trainer_state.json, a `step-N` folder copied in from another run).
    public static func checkState(examples: Int, updates: Int, folder: URL, batchSize: Int) throws {
        let file = folder.appendingPathComponent("trainer_state.json").path
        guard folder.lastPathComponent == CheckpointStore.folderName(examples: examples) else {
            throw CheckpointStoreError.unreadable(file: file, detail: "counts \(examples) examples but sits in \(folder.lastPathComponent): an edited state or a folder from another run")
        }
        guard updates >= 0, examples == updates * batchSize else {
            throw CheckpointStoreError.unreadable(file: file, detail: "counts \(examples) examples over \(updates) updates, which batch_size \(batchSize) cannot give")
        }
    }
}
