#if canImport(Glibc)
import Glibc
#endif

/// The C type of a dataset plugin's load callback.
public typealias dph_dataset_vtable_load = @convention(c) (
    UnsafePointer<dph_host_api>?, OpaquePointer?, UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> dph_status

extension Host {
    /// Hands one prompt's record to the host (docs/spec/data.md §1). `pairs` index `responses`
    /// as (preferred, dispreferred); the host copies everything before this returns.
    /// With `conversational`, the strings are JSON arrays of chat messages (DPH_RECORD_MESSAGES).
    public func emitRecord(prompt: String, responses: [String], pairs: [(Int, Int)], sftTarget: String,
                           conversational: Bool = false) throws {
        let flatPairs = pairs.flatMap { [Int32($0.0), Int32($0.1)] }
        try emitRecord(prompt: prompt, responses: responses, flatPairs: flatPairs, sftTarget: sftTarget, conversational: conversational)
    }

    /// As `emitRecord(prompt:responses:pairs:sftTarget:)` with pairs already flattened to
    /// `[p0, d0, p1, d1, ...]` (what the ABI takes), saving a copy for large datasets.
    public func emitRecord(prompt: String, responses: [String], flatPairs: [Int32], sftTarget: String,
                           conversational: Bool = false) throws {
        precondition(flatPairs.count % 2 == 0, "flatPairs holds (preferred, dispreferred) pairs")
        // strdup'd copies: Swift's temporary C strings would not outlive one closure each.
        let cResponses = responses.map { UnsafePointer(strdup($0)!) }
        defer { cResponses.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        let status: dph_status = prompt.withCString { cPrompt in
            sftTarget.withCString { cTarget in
                cResponses.map { Optional($0) }.withUnsafeBufferPointer { responsesBuffer in
                    flatPairs.withUnsafeBufferPointer { pairsBuffer in
                        var record = dph_record()
                        record.struct_size = UInt32(MemoryLayout<dph_record>.size)
                        record.prompt = cPrompt
                        record.responses = responsesBuffer.baseAddress
                        record.n_responses = Int32(responses.count)
                        record.pairs = pairsBuffer.baseAddress
                        record.n_pairs = Int32(flatPairs.count / 2)
                        record.sft_target = cTarget
                        record.content = conversational ? DPH_RECORD_MESSAGES : DPH_RECORD_TEXT
                        return api.pointee.emit_record(ctx, &record)
                    }
                }
            }
        }
        try check(status)
    }

    /// The items of a list option, in order.
    public func optionList(_ name: String) throws -> [String] {
        var count: Int32 = 0
        try check(api.pointee.option_list_count(ctx, name, &count))
        return try (0..<count).map { i in
            var item: UnsafePointer<CChar>?
            try check(api.pointee.option_list_item(ctx, name, i, &item))
            return String(cString: item!)
        }
    }

    /// A string option, nil when it is empty (the usual default of an optional path).
    public func optionNonEmptyString(_ name: String) throws -> String? {
        let value = try optionString(name)
        return value.isEmpty ? nil : value
    }
}

extension PluginDescription {
    /// A dataset vtable that lives as long as the library.
    public static func datasetVTable(truncationMode: dph_truncation_mode,
                                     load: dph_dataset_vtable_load) -> UnsafePointer<dph_dataset_vtable> {
        let v = UnsafeMutablePointer<dph_dataset_vtable>.allocate(capacity: 1)
        var t = dph_dataset_vtable()
        t.struct_size = UInt32(MemoryLayout<dph_dataset_vtable>.size)
        t.truncation_mode = truncationMode
        t.load = load
        v.initialize(to: t)
        return UnsafePointer(v)
    }
}
