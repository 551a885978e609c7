import CaseCatalog
import Foundation
import TestSupport
import Testing

@testable import CaseMatcher

/// The on-disk database cache serves a database only for exactly the inputs it was built from.
@Suite struct DatabaseCacheTests {
    /// Regression: the key named the Hyperscan library but not PCRE2 (which validates the
    /// patterns and confirms what a prefiltered one reports) nor casewatch (which decides
    /// the prefilter flags), so an upgrade of either served the old flags.
    @Test func theKeyNamesCasewatchAndBothLibraries() throws {
        let compiled = try CompiledCatalog(catalog: catalog([("alpha", [])]))
        let key = String(decoding: CompiledCatalog.cacheKey(compiled.patterns), as: UTF8.self)
        #expect(key.contains("casewatch \(CasewatchVersion.string)\n"))
        #expect(key.contains(vectorscanVersion))
        #expect(key.contains("pcre2 \(pcre2Version)\n"))
    }

    /// Regression: the prefilter flags were read back without checking there was one per
    /// pattern; too many were trusted, too few crashed.
    @Test(arguments: [-1, 1])
    func aCacheFileWithTheWrongNumberOfFlagsIsRecompiled(extraFlags: Int) throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let patterns: [(String, Symptom.Flags)] = [("alpha \\d+", []), ("(x)\\1", [])]
        _ = try CompiledCatalog(catalog: catalog(patterns), cacheDirectory: dir.path)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(files.count == 1)
        for name in files {
            let url = dir.appendingPathComponent(name)
            try Data(Self.withFlagCount(changedBy: extraFlags, [UInt8](Data(contentsOf: url)))).write(to: url)
        }
        let again = try CompiledCatalog(catalog: catalog(patterns), cacheDirectory: dir.path)
        #expect(!again.loadedFromCache)
        #expect(again.patterns.filter { !$0.isStreamValue }.map(\.prefiltered) == [false, true])
        #expect(try hits(again, .compiled, Array("alpha 1\nxx\n".utf8)).count == 2)
    }

    /// Rewrites a cache file (magic, key, flags, database; lengths as 8-byte little-endian
    /// integers) with `delta` flags more or fewer, every length consistent.
    private static func withFlagCount(changedBy delta: Int, _ file: [UInt8]) -> [UInt8] {
        func u64(at i: Int) -> Int { (0..<8).reversed().reduce(0) { $0 << 8 | Int(file[i + $1]) } }
        func u64(_ v: Int) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        let countAt = 8 + 8 + u64(at: 8)
        let count = u64(at: countAt)
        var flags = Array(file[countAt + 8..<countAt + 8 + count])
        if delta < 0 { flags.removeLast(-delta) } else { flags += [UInt8](repeating: 0, count: delta) }
        return Array(file[..<countAt]) + u64(flags.count) + flags + Array(file[(countAt + 8 + count)...])
    }
}

/// Regression: every catalog change left its compiled database in the cache directory forever.
@Suite struct CachePruningTests {
    @Test func onlyTheNewestDatabasesStay() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let unrelated = dir.appendingPathComponent("notes.txt")
        try "keep me".write(to: unrelated, atomically: true, encoding: .utf8)
        for i in 0..<12 {
            _ = try CompiledCatalog(catalog: catalog([("alpha\(i) \\d+", [])]), cacheDirectory: dir.path)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(files.filter { $0.hasPrefix("patterns-") }.count == 8)
        #expect(files.contains("notes.txt"), "only cache files are pruned")
        // The newest one is still there and used.
        let again = try CompiledCatalog(catalog: catalog([("alpha11 \\d+", [])]), cacheDirectory: dir.path)
        #expect(again.loadedFromCache)
    }
}
