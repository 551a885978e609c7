import Foundation
import TestSupport
import Testing

@testable import CaseCatalog

@Suite struct CatalogCacheTests {
    @Test func theBuiltinCatalogRoundTripsExactly() throws {
        let cacheDir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cacheDir) }
        let cache = CatalogCache(directory: cacheDir.path)
        let parsed = try Catalog.load(directories: [Paths.patterns])
        #expect(cache.load(directories: [Paths.patterns]) == nil, "nothing cached yet")
        cache.store(parsed, directories: [Paths.patterns])
        let cached = try #require(cache.load(directories: [Paths.patterns]))
        #expect(cached.cases == parsed.cases)
        #expect(cached.cases.contains { $0.trigger?.windowLines != nil }, "the round trip covers triggers")
        #expect(cached.cases.contains { $0.symptoms.contains { $0.scope.sources != nil } }, "and scopes")
        let steps = cached.cases.flatMap { c in c.fix.steps + c.fix.steps.flatMap(\.alternatives) }
        let choices = steps.filter { !$0.alternatives.isEmpty }.count, conditions = steps.filter { $0.when != nil }.count
        #expect(choices > 0 && conditions > 0, "and fix steps")
        let commands = steps.flatMap(\.commands)
        let destructive = commands.filter(\.isDestructive).count
        let files = commands.filter { if case .file = $0.body { true } else { false } }.count
        let sql = commands.filter { if case .sql = $0.body { true } else { false } }.count
        #expect(destructive > 0 && files > 0 && sql > 0, "destructive commands, file and SQL lines")
        let versions = cached.cases.filter { !$0.fix.versions.isEmpty }.count, owns = cached.cases.filter { !$0.fix.owns.isEmpty }.count
        #expect(versions > 0 && owns > 0, "versions, owns")
    }

    @Test func aFixWithEveryKindOfStepRoundTrips() throws {
        let dir = Paths.temporaryDirectory(), cacheDir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir); try? FileManager.default.removeItem(at: cacheDir) }
        try fixDocument(FixFormatTests.full).write(to: dir.appendingPathComponent("fix.yaml"), atomically: true, encoding: .utf8)
        let cache = CatalogCache(directory: cacheDir.path)
        let parsed = try Catalog.load(directories: [dir.path], cache: cache)
        let cached = try #require(cache.load(directories: [dir.path]))
        #expect(cached.cases == parsed.cases)
    }

    @Test func aChangedFileIsParsedAgain() throws {
        let dir = Paths.temporaryDirectory(), cacheDir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir); try? FileManager.default.removeItem(at: cacheDir) }
        let file = dir.appendingPathComponent("mine.yaml")
        try caseDocument(id: "first-name").write(to: file, atomically: true, encoding: .utf8)
        let cache = CatalogCache(directory: cacheDir.path)
        #expect(try Catalog.load(directories: [dir.path], cache: cache).cases.map(\.id) == ["first-name"])
        #expect(cache.load(directories: [dir.path]) != nil)
        try caseDocument(id: "second-name").write(to: file, atomically: true, encoding: .utf8)
        #expect(cache.load(directories: [dir.path]) == nil, "the cache must not serve a changed file")
        #expect(try Catalog.load(directories: [dir.path], cache: cache).cases.map(\.id) == ["second-name"])
        // A broken file is reported, not hidden by an older cache entry.
        try "id: [broken".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: CatalogErrors.self) { try Catalog.load(directories: [dir.path], cache: cache) }
    }

    /// Regression: the key held only the case files, so a new casewatch (another model,
    /// other defaults) would have served what an older one parsed.
    @Test func aCacheWrittenByAnotherVersionIsNotUsed() throws {
        let dir = Paths.temporaryDirectory(), cacheDir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir); try? FileManager.default.removeItem(at: cacheDir) }
        try caseDocument(id: "versioned").write(to: dir.appendingPathComponent("mine.yaml"), atomically: true, encoding: .utf8)
        let older = CatalogCache(directory: cacheDir.path, version: "0.1.0")
        older.store(try Catalog.load(directories: [dir.path]), directories: [dir.path])
        #expect(older.load(directories: [dir.path]) != nil, "the older build reads its own file")
        #expect(CatalogCache(directory: cacheDir.path).load(directories: [dir.path]) == nil)
        #expect(CatalogCache(directory: cacheDir.path).version == CasewatchVersion.string)
    }

    @Test func aCorruptCacheFileIsIgnored() throws {
        let cacheDir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cacheDir) }
        let cache = CatalogCache(directory: cacheDir.path)
        _ = try Catalog.load(directories: [Paths.patterns], cache: cache)
        for name in try FileManager.default.contentsOfDirectory(atPath: cacheDir.path) {
            let url = cacheDir.appendingPathComponent(name)
            let data = try Data(contentsOf: url)
            try data.prefix(data.count - 100).write(to: url)
        }
        #expect(cache.load(directories: [Paths.patterns]) == nil)
        #expect(try Catalog.load(directories: [Paths.patterns], cache: cache).cases.count == 54)
    }
}
