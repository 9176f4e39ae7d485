import Foundation

/// The entries of a zip file (what `torch.save` writes), read from its central directory. Only
/// stored (uncompressed) entries can be read, as `torch.save` writes them; every offset is
/// checked against the file.
struct ZipArchive {
    struct Entry { let name: String; let offset: Int; let size: Int; let compressed: Bool }

    let file: MappedFile
    let entries: [String: Entry]

    init(path: String) throws {
        file = try MappedFile(path: path)
        let p = file.base, size = file.size
        func u16(_ o: Int) -> Int { Int(p.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian) }
        func u32(_ o: Int) -> Int { Int(p.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian) }
        func u64(_ o: Int) -> Int { Int(truncatingIfNeeded: p.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian) }
        func bad(_ detail: String) -> CheckpointError { .malformedArchive(file: path, detail: detail) }
        // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
        if p.load(as: UInt8.self) == 0x80 {
            throw bad("PyTorch's legacy format (a bare pickle, before torch 1.6), which dpohost does not read; re-save it with a current torch.save, or as safetensors")
        }
        guard size >= 22 else { throw bad("too short for a zip file") }
        var eocd = -1
        var o = size - 22
        while o >= max(0, size - 22 - 65_535) {
            if u32(o) == 0x0605_4b50 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw bad("not a zip file (no end of central directory)") }
        var count = u16(eocd + 10), directorySize = u32(eocd + 12), directoryOffset = u32(eocd + 16)
        if count == 0xFFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64: the locator just before the record points at the zip64 record.
            guard eocd >= 20, u32(eocd - 20) == 0x0706_4b50 else { throw bad("zip64 locator missing") }
            let record = u64(eocd - 12)
            guard record >= 0, record <= size - 56, u32(record) == 0x0606_4b50 else { throw bad("zip64 record out of range") }
            count = u64(record + 32); directorySize = u64(record + 40); directoryOffset = u64(record + 48)
        }
        guard directoryOffset >= 0, directorySize >= 0, directoryOffset <= size, directorySize <= size - directoryOffset else {
            throw bad("central directory outside the file")
        }
        var entries: [String: Entry] = [:]
        var at = directoryOffset
        for _ in 0..<count {
            guard at + 46 <= size, u32(at) == 0x0201_4b50 else { throw bad("central directory entry \(entries.count) is damaged") }
            let method = u16(at + 10)
            var compressedSize = u32(at + 20), uncompressedSize = u32(at + 24)
            let nameLength = u16(at + 28), extraLength = u16(at + 30), commentLength = u16(at + 32)
            var localOffset = u32(at + 42)
            guard at + 46 + nameLength + extraLength <= size else { throw bad("entry name outside the file") }
            let name = String(decoding: UnsafeRawBufferPointer(start: p + at + 46, count: nameLength), as: UTF8.self)
            // Zip64 extended information: the 64-bit sizes and offset, in this order, for the
            // fields that hold 0xFFFFFFFF.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = u16(extra), length = u16(extra + 2)
                if id == 0x0001 {
                    var field = extra + 4
                    if uncompressedSize == 0xFFFF_FFFF, field + 8 <= extraEnd { uncompressedSize = u64(field); field += 8 }
                    if compressedSize == 0xFFFF_FFFF, field + 8 <= extraEnd { compressedSize = u64(field); field += 8 }
                    if localOffset == 0xFFFF_FFFF, field + 8 <= extraEnd { localOffset = u64(field) }
                }
                extra += 4 + length
            }
            guard localOffset >= 0, localOffset <= size - 30, u32(localOffset) == 0x0403_4b50 else {
                throw bad("entry '\(name)' has no local header")
            }
            let dataOffset = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28)
            guard compressedSize >= 0, uncompressedSize >= 0, dataOffset <= size, compressedSize <= size - dataOffset,
                  method != 0 || uncompressedSize == compressedSize else {
                throw bad("entry '\(name)' extends past the end of the file")
            }
            entries[name] = Entry(name: name, offset: dataOffset, size: method == 0 ? uncompressedSize : compressedSize,
                                  compressed: method != 0)
            at += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }

    /// The bytes of a stored entry, borrowed from the mapping.
    func bytes(of entry: Entry, in path: String) throws -> UnsafeRawBufferPointer {
        guard !entry.compressed else {
            throw CheckpointError.malformedArchive(file: path, detail: "entry '\(entry.name)' is compressed; torch.save stores entries uncompressed")
        }
        return UnsafeRawBufferPointer(start: file.base + entry.offset, count: entry.size)
    }
}
