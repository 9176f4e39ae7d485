import DataPipeline
import PluginHost
import TensorCore

/// One dataset of a run: a dataset plugin's name and its options (`datasets=[hh,shp]` is two).
public struct DatasetSpec: Sendable, Equatable {
    public var name: String
    public var options: [String: String]

    public init(name: String, options: [String: String] = [:]) {
        self.name = name
        self.options = options
    }
}

/// Loads datasets through their plugins and turns the records into the data pipeline's input:
/// one `PromptDataset` per dataset, flattened in the given order (docs/spec/data.md §6).
public struct DatasetSource {
    public let registry: PluginRegistry

    public init(registry: PluginRegistry) { self.registry = registry }

    /// The records of `split` from the plugin named `spec.name`. A split without records (empty
    /// files, or every row filtered out) is an error naming the dataset and split.
    public func load(_ spec: DatasetSpec, split: String) throws -> PromptDataset {
        let plugin = try DatasetPlugin(try registry.resolve(kind: .dataset, name: spec.name), options: spec.options)
        let mode = plugin.truncationMode
        let records = try plugin.load(split: split)
        if let first = records.first, records.contains(where: { $0.text != first.text }) {
            throw DataError.invalidArgument("dataset '\(spec.name)' split '\(split)' mixes conversational rows (message lists) and plain-text rows")
        }
        let dataset = Self.promptDataset(name: spec.name, truncationMode: mode, records: records)
        guard !dataset.prompts.isEmpty else {
            throw DataError.noRecords("dataset '\(spec.name)' has no records in split '\(split)' "
                + "(its files are empty or every row was filtered out)")
        }
        return dataset
    }

    public func load(_ specs: [DatasetSpec], split: String) throws -> [PromptDataset] {
        try specs.map { try load($0, split: split) }
    }

    /// Every prompt of every dataset, datasets in the given order (what the iterator shuffles).
    public func flatPrompts(_ specs: [DatasetSpec], split: String) throws -> [FlatPrompt] {
        try load(specs, split: split).flattened()
    }

    /// Records in emission order. A prompt emitted twice merges as the reference's dictionary
    /// does for HH and SHP: responses appended (later pair indices shifted past the earlier
    /// responses), pairs appended, the later SFT target kept; the prompt keeps its first position.
    public static func promptDataset(name: String, truncationMode: TruncationMode, records: [PromptRecord]) -> PromptDataset {
        var dataset = PromptDataset(name: name, truncationMode: truncationMode)
        for r in records {
            guard var merged = dataset.record(r.prompt) else {
                dataset.set(r)
                continue
            }
            let offset = merged.responses.count
            merged.responses += r.responses
            merged.pairs += r.pairs.map { PromptRecord.Pair(offset + $0.preferred, offset + $0.dispreferred) }
            merged.sftTarget = r.sftTarget
            dataset.set(merged)
        }
        return dataset
    }
}
