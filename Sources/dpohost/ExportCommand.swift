import ArgumentParser
import Foundation
import Model
import Training

/// `dpohost export`: a run, a checkpoint or a model directory as a Hugging Face directory.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a run's latest checkpoint (or a checkpoint / model folder) as a Hugging Face model directory.",
        discussion: "SOURCE is a run directory (its LATEST checkpoint is exported), a step-N or LATEST folder, or a model directory. The output holds config.json, model.safetensors and the tokenizer files.")

    @Argument(help: "Run directory, checkpoint folder or model directory.") var source: String
    @Argument(help: "Output directory.") var output: String
    @Flag(help: "Merge the LoRA adapter of a LoRA run's checkpoint (or of a PEFT adapter folder next to the weights) into the weights.")
    var merge = false
    @OptionGroup var plugins: PluginSourceOptions

    func run() throws {
        try CLIErrors.run {
            var dir = source
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: source + "/LATEST", isDirectory: &isDir), isDir.boolValue {
                dir = source + "/LATEST"
            }
            // Loading through the model plugin checks every tensor before anything is written.
            let lm = try LanguageModel(directory: dir, registry: plugins.registry(), trainable: false)
            if let adapter = LanguageModel.adapterFolder(of: dir) {
                guard merge else {
                    throw ValidationError("\(dir) holds a LoRA adapter (adapter_config.json): export --merge writes the adapted model; without it the adapter would be left out")
                }
                try lm.mergePEFTAdapter(directory: adapter)
            } else if merge {
                throw ValidationError("\(dir) holds no LoRA adapter (adapter_config.json) to merge")
            }
            try ModelExport.export(lm, to: output)
            print("exported \(lm.parameters.count) tensors (\(lm.parameterCount) parameters, \(lm.modelType)) to \(output)")
        }
    }
}
