import CVectorscan
import Foundation

/// Serialized pattern databases on disk, so a restart with an unchanged catalog skips the
/// compile. A file holds the full key (library version + every pattern) and is used only when
/// the key is byte-for-byte the same; anything unreadable is ignored and recompiled.
struct DatabaseCache {
    let directory: String

    private static let magic = Array("CWHSDB1\n".utf8)

    private func path(for key: [UInt8]) -> String {
        // FNV-1a names the file; the full key inside decides.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        return (directory as NSString).appendingPathComponent("patterns-\(String(hash, radix: 16)).hsdb")
    }

    /// The corresponding C function is `hs_deserialize_database`.
    func load(key: [UInt8]) -> (OpaquePointer, [Bool])? {
        guard let data = FileManager.default.contents(atPath: path(for: key)) else { return nil }
        let bytes = [UInt8](data)
        var at = 0
        func take(_ n: Int) -> ArraySlice<UInt8>? {
            guard n >= 0, at + n <= bytes.count else { return nil }
            defer { at += n }
            return bytes[at..<at + n]
        }
        func u64() -> Int? {
            guard let s = take(8) else { return nil }
            return Int(s.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        }
        guard take(Self.magic.count).map(Array.init) == Self.magic,
            let keyLength = u64(), let storedKey = take(keyLength), Array(storedKey) == key,
            let count = u64(), let flags = take(count),
            let dbLength = u64(), let serialized = take(dbLength)
        else { return nil }
        var db: OpaquePointer? = nil
        let rc = serialized.withUnsafeBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) {
                hs_deserialize_database($0, p.count, &db)
            }
        }
        guard rc == HS_SUCCESS, let db else { return nil }
        return (db, flags.map { $0 != 0 })
    }

    /// Best effort: a cache that cannot be written only costs the next start a compile.
    /// The corresponding C function is `hs_serialize_database`.
    func store(_ db: OpaquePointer, key: [UInt8], prefilter: [Bool]) {
        var raw: UnsafeMutablePointer<CChar>? = nil
        var length = 0
        guard hs_serialize_database(db, &raw, &length) == HS_SUCCESS, let raw else { return }
        defer { free(raw) }
        var out = Self.magic
        func u64(_ v: Int) { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(v) >> (8 * i))) } }
        u64(key.count); out += key
        u64(prefilter.count); out += prefilter.map { $0 ? 1 : 0 }
        u64(length)
        raw.withMemoryRebound(to: UInt8.self, capacity: length) { out += UnsafeBufferPointer(start: $0, count: length) }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let final = path(for: key)
        let temporary = final + ".tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(out)) else { return }
        if rename(temporary, final) != 0 { unlink(temporary) }
    }
}
