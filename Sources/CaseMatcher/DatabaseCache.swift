import CVectorscan
import CaseCatalog
import Foundation

/// Serialized pattern databases on disk, so a restart with an unchanged catalog skips the
/// compile. A file holds the full key (versions + every pattern) and is used only when the key
/// is byte-for-byte the same, it has one prefilter flag per pattern, and the library takes the
/// database as a block-mode one; anything else is ignored and recompiled.
struct DatabaseCache {
    let directory: String

    private static let magic = Array("CWHSDB1\n".utf8)

    private func path(for key: [UInt8]) -> String {
        // FNV-1a names the file; the full key inside decides.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        return (directory as NSString).appendingPathComponent("patterns-\(String(hash, radix: 16)).hsdb")
    }

    /// The database and its prefilter flags stored under `key`, for a catalog of `patterns`
    /// patterns.
    /// The corresponding C functions are `hs_serialized_database_size`, `hs_deserialize_database`
    /// and `hs_database_info`.
    func load(key: [UInt8], patterns: Int) -> (OpaquePointer, [Bool])? {
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
            let count = u64(), count == patterns, let flags = take(count), flags.allSatisfy({ $0 <= 1 }),
            let dbLength = u64(), dbLength > 0, let serialized = take(dbLength), at == bytes.count
        else { return nil }
        var db: OpaquePointer? = nil
        let rc = serialized.withUnsafeBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { bytes in
                // The header must be one this library reads before the body is decoded.
                var size = 0
                guard hs_serialized_database_size(bytes, p.count, &size) == HS_SUCCESS, size > 0 else { return HS_INVALID }
                return hs_deserialize_database(bytes, p.count, &db)
            }
        }
        guard rc == HS_SUCCESS, let db else { return nil }
        guard Self.isBlockMode(db) else {
            hs_free_database(db)
            return nil
        }
        return (db, flags.map { $0 != 0 })
    }

    /// Whether the library describes `db` as a block-mode database, the only mode scanned.
    /// The corresponding C function is `hs_database_info`.
    private static func isBlockMode(_ db: OpaquePointer) -> Bool {
        var info: UnsafeMutablePointer<CChar>? = nil
        guard hs_database_info(db, &info) == HS_SUCCESS, let info else { return false }
        defer { free(info) }
        return String(cString: info).contains("Mode: BLOCK")
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
        CachePruning.prune(directory, prefix: "patterns-", suffix: ".hsdb")
    }
}
