import CaseCatalog
import Foundation
import TestSupport
import Testing

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
        #expect(try Catalog.load(directories: [Paths.patterns], cache: cache).cases.count == 53)
    }
}
