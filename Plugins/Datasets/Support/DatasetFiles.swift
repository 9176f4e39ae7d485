import DPOHostSDK
import Foundation

/// Finds a dataset's local files in the published layouts, in the reference's (sorted) order.
public enum DatasetFiles {
    /// Line-delimited JSON, plain or gzip-compressed (SHP's published `.json` files are JSON Lines).
    public static let extensions = [".jsonl", ".jsonl.gz", ".json", ".json.gz"]

    /// The split's files: `<split>.<ext>` directly in `dataDir` (one file), else one such file in
    /// each immediate subfolder (HH's subsets, SHP's domains), subfolders in sorted order.
    public static func splitFiles(dataDir: String, split: String, plugin: String) throws -> [String] {
        try requireDirectory(dataDir, plugin: plugin)
        if let direct = try splitFile(in: dataDir, split: split) { return [direct] }
        let files = try subdirectories(of: dataDir).compactMap { try splitFile(in: $0, split: split) }
        guard !files.isEmpty else {
            let names = extensions.map { split + $0 }.joined(separator: ", ")
            throw DPHError(Int32(DPH_ERR_IO), "\(plugin): no \(names) in \(dataDir) or in its subfolders")
        }
        return files
    }

    /// Every line-delimited JSON file under `dir`, at any depth, in sorted path order.
    public static func allFiles(under dir: String, plugin: String) throws -> [String] {
        try requireDirectory(dir, plugin: plugin)
        guard let walker = FileManager.default.enumerator(atPath: dir) else { return [] }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            if extensions.contains(where: { relative.hasSuffix($0) }) { files.append(relative) }
        }
        return files.sorted().map { dir + "/" + $0 }
    }

    /// `<split>.<ext>` in `dir`, nil when absent; two spellings of one split are ambiguous.
    public static func splitFile(in dir: String, split: String) throws -> String? {
        let found = extensions.map { dir + "/" + split + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
        guard found.count <= 1 else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT),
                           "both \(found.joined(separator: " and ")) exist; keep one so no rows are read twice")
        }
        return found.first
    }

    static func subdirectories(of dir: String) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        return names.map { dir + "/" + $0 }.filter(isDirectory)
    }

    public static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    static func requireDirectory(_ path: String, plugin: String) throws {
        guard isDirectory(path) else {
            throw DPHError(Int32(DPH_ERR_IO), "\(plugin): data_dir \(path) is not a directory")
        }
    }

    /// Only `train` and `test` are ever requested (docs/spec/data.md §1.3).
    public static func requireSplit(_ split: String, plugin: String) throws {
        guard split == "train" || split == "test" else {
            throw DPHError(Int32(DPH_ERR_INVALID_ARGUMENT), "\(plugin): unknown split '\(split)' (expected train or test)")
        }
    }
}
