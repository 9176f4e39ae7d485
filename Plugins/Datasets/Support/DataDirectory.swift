import DPOHostSDK

/// The required `data_dir` option of the published datasets (HH, SHP, SE): the folder holding
/// a local copy, in one of the layouts `DatasetFiles` reads. The layout gives both the option's
/// help and how a split's files are found, so the two say the same.
public enum DataDirectory: Sendable {
    /// `<split>.<extensions>` in the folder, or one in each of its subfolders, read in sorted
    /// order (HH's subsets, SHP's domains); `subfolders` names what a subfolder is and
    /// `example` is one published path, for the help.
    case splitFiles(extensions: String, subfolders: String, example: String)
    /// Every data file at any depth, in sorted path order; the plugin makes the split (SE).
    case anyDepth

    public static let optionName = "data_dir"

    /// The option, with no default (the host refuses a run that does not set it).
    public var option: PluginDescription.Option {
        .init(Self.optionName, DPH_OPTION_STRING, default: nil, help: help)
    }

    var help: String {
        switch self {
        case let .splitFiles(extensions, subfolders, example):
            return "folder with <split>.\(extensions), or \(subfolders) folders each holding one (\(example), ...; read in sorted order)"
        case .anyDepth:
            return "folder holding *.jsonl(.gz) files at any depth (read in sorted path order)"
        }
    }

    /// The files of `split` (train or test) in the folder the host's `data_dir` names; errors
    /// name `plugin`.
    public func files(host: Host, split: String, plugin: String) throws -> [String] {
        try DatasetFiles.requireSplit(split, plugin: plugin)
        let dir = try host.optionString(Self.optionName)
        switch self {
        case .splitFiles:
            return try DatasetFiles.splitFiles(dataDir: dir, split: split, plugin: plugin)
        case .anyDepth:
            let files = try DatasetFiles.allFiles(under: dir, plugin: plugin)
            guard !files.isEmpty else {
                throw DPHError(Int32(DPH_ERR_IO), "\(plugin): no .jsonl or .jsonl.gz files under \(dir)")
            }
            return files
        }
    }
}
