import Alerting
import CaseCatalog
import CaseMatcher
import Foundation
import LogSources
import TestSupport
import Testing

@Suite struct MatcherEdgeCaseTests {
    @Test func invalidUTF8LinesStillMatch() throws {
        let compiled = try CompiledCatalog(catalog: catalog([("disk (?<dev>\\w+) failed", [])]))
        let text: [UInt8] = [0xFF, 0xFE] + Array(" disk sda failed ".utf8) + [0xC3, 0x28, 0x0A] + Array("ok\n".utf8)
        let found = try hits(compiled, .compiled, text)
        #expect(found.map(\.pattern) == [0])
        #expect(found.first?.captures == ["dev=sda"])
    }

    @Test func crlfLineEndsAreStrippedBeforeMatching() throws {
        let compiled = try CompiledCatalog(catalog: catalog([("^status: failed$", [])]))
        let text = Array("status: failed\r\nstatus: ok\r\nstatus: failed".utf8)
        #expect(try hits(compiled, .compiled, text).count == 2)
        #expect(try hits(compiled, .reference, text).count == 2)
    }

    @Test func ansiColoursAreRemovedBeforeMatching() throws {
        let compiled = try CompiledCatalog(catalog: catalog([("==> No private IPv4 address found", [])]))
        let text = Array("\u{1B}[38;5;6mconsul \u{1B}[38;5;5m10:11:12.00 \u{1B}[0m\u{1B}[1m==> No private IPv4 address found\u{1B}[0m\n".utf8)
        #expect(try hits(compiled, .compiled, text).count == 1)
    }

    @Test func emptyInputAndEmptyLines() throws {
        let compiled = try CompiledCatalog(catalog: catalog([("x", [])]))
        #expect(try hits(compiled, .compiled, []).isEmpty)
        #expect(try hits(compiled, .compiled, Array("\n\n\n".utf8)).isEmpty)
        #expect(try hits(compiled, .compiled, Array("\n\nx\n\n".utf8)) == [Hit(pattern: 0, lineStart: 2, captures: [])])
    }

    @Test func aLineIsReportedOncePerSymptomEvenWithManyMatches() throws {
        let compiled = try CompiledCatalog(catalog: catalog([("o+", [])]))
        #expect(try hits(compiled, .compiled, Array("foo boo zoo\nno\n".utf8)).count == 2)
    }

    @Test func backReferencesAreCompiledAsPrefilterAndConfirmedExactly() throws {
        let compiled = try CompiledCatalog(catalog: catalog([("(\\w+)-\\1", []), ("id=(?=\\d)\\w+", [])]))
        #expect(compiled.patterns.filter { !$0.isStreamValue }.map(\.prefiltered) == [true, true])
        let text = Array("abc-abc\nabc-abd\nid=12x\nid=x12\n".utf8)
        let found = try hits(compiled, .compiled, text)
        #expect(found.map(\.lineStart) == [0, 16])
        let reference = try hits(compiled, .reference, text)
        #expect(found == reference)
    }

    @Test func syntaxErrorNamesTheCaseAndSymptom() throws {
        let broken = Case(
            id: "broken-case", title: Localized(en: "t", zh: "t"), severity: .error, source: .init(seed: "s", heading: "h"),
            symptoms: [Symptom(id: "bad-paren", regex: "unclosed (group", location: SourceLocation(file: "Patterns/x.yaml", line: 12))],
            diagnosis: Localized(en: "d", zh: "d"), fix: .init(text: Localized(en: "f", zh: "f")))
        do {
            _ = try CompiledCatalog(catalog: try Catalog(cases: [broken]))
            Issue.record("a broken regex compiled")
        } catch {
            let e = try #require(error.errors.first)
            #expect(e.caseID == "broken-case")
            #expect(e.field.contains("bad-paren"))
            #expect(e.description.hasPrefix("Patterns/x.yaml:12: case broken-case:"))
            #expect(e.message.contains("missing closing parenthesis"))
        }
    }

    @Test func patternMatchingTheEmptyLineIsRefused() throws {
        let cat = try catalog([("ok", []), ("x*", [])])
        do {
            _ = try CompiledCatalog(catalog: cat)
            Issue.record("an always-matching pattern compiled")
        } catch {
            #expect(error.errors.first?.caseID == "case-1")
        }
    }

    @Test func scopesRestrictSymptomsToTheirSources() throws {
        var c = try catalog([("evicted", [])]).cases[0]
        c.symptoms[0].scope = Scope(sources: [.kubectl], pod: Glob("bk-*"))
        let compiled = try CompiledCatalog(catalog: try Catalog(cases: [c]))
        let text = Array("pod evicted\n".utf8)
        #expect(try hits(compiled, .compiled, text, origin: Origin(kind: .kubectl, name: "k", pod: "bk-repo-0")).count == 1)
        #expect(try hits(compiled, .compiled, text, origin: Origin(kind: .kubectl, name: "k", pod: "redis-0")).isEmpty)
        #expect(try hits(compiled, .compiled, text, origin: Origin(kind: .journald, name: "j")).isEmpty)
        // A piped kubectl log has no pod name: a pod constraint does not exclude it.
        #expect(try hits(compiled, .compiled, text, origin: Origin(kind: .kubectl, name: "k")).count == 1)
    }

    @Test func databaseCacheIsUsedWhenNothingChanged() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let patterns: [(String, Symptom.Flags)] = [("alpha \\d+", []), ("(x)\\1", []), ("BETA", [.caseless])]
        let first = try CompiledCatalog(catalog: catalog(patterns), cacheDirectory: dir.path)
        #expect(!first.loadedFromCache)
        let second = try CompiledCatalog(catalog: catalog(patterns), cacheDirectory: dir.path)
        #expect(second.loadedFromCache)
        #expect(second.patterns.filter { !$0.isStreamValue }.map(\.prefiltered) == [false, true, false])
        let text = Array("alpha 1\nxx\nbeta\nnone\n".utf8)
        #expect(try hits(second, .compiled, text) == hits(first, .compiled, text))
        #expect(try hits(second, .compiled, text).count == 3)
        // A changed pattern must not reuse the old database.
        let changed = try CompiledCatalog(catalog: catalog([("alpha \\d+", []), ("(x)\\1", []), ("GAMMA", [.caseless])]), cacheDirectory: dir.path)
        #expect(!changed.loadedFromCache)
    }

    @Test func corruptCacheFilesAreIgnored() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try CompiledCatalog(catalog: catalog([("alpha", [])]), cacheDirectory: dir.path)
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            let path = dir.appendingPathComponent(file).path
            var data = try Data(contentsOf: URL(fileURLWithPath: path))
            data = data.prefix(data.count - 10)
            try data.write(to: URL(fileURLWithPath: path))
        }
        let again = try CompiledCatalog(catalog: catalog([("alpha", [])]), cacheDirectory: dir.path)
        #expect(!again.loadedFromCache)
        #expect(try hits(again, .compiled, Array("alpha\n".utf8)).count == 1)
    }
}

@Suite struct MatchReportDeduplicationTests {
    /// Reports are kept once per pattern and line; a match whose last byte is the newline
    /// belongs to the line it ends, and must not hide a true match on the next line.
    @Test func aMatchEndingOnTheNewlineDoesNotHideTheNextLine() throws {
        let compiled = try CompiledCatalog(catalog: catalog([("foo\\s", [])]))
        let text = Array("foo\nfoo x\nbar\n".utf8)
        let found = try hits(compiled, .compiled, text)
        #expect(found.map(\.lineStart) == [4])
        #expect(found == (try hits(compiled, .reference, text)))
    }

    @Test func manyReportsInOneLineAreOneHit() throws {
        let compiled = try CompiledCatalog(catalog: catalog([("[Ee]rror.*[0-9]+", []), ("WARN.*[a-z]+", [])]))
        let text = Array("Error 1 2 3 4 5 6 7 8 9\nWARN abcdefghijklmnop\nError 42 and WARN x\n".utf8)
        let found = try hits(compiled, .compiled, text)
        #expect(found.count == 4)
        #expect(found == (try hits(compiled, .reference, text)))
    }
}

/// Regression: the compiled engine handed a line's hits over in the order their matches ended,
/// the reference engine in catalog order, so `cases test` could report a false disagreement and
/// `explains` / `superseded_by` depended on which match ended first.
@Suite struct HitOrderTests {
    @Test func bothEnginesOrderALinesHitsByStartThenCatalogOrder() throws {
        // p0 ends first but starts last; p1 and p2 start together.
        let compiled = try CompiledCatalog(catalog: catalog([("bbb", []), ("a.*c", []), ("a b", [])]))
        let scratch = try compiled.makeScratch()
        let text = Array("x\na bbb c\n".utf8)
        for reference in [false, true] {
            var order: [Int] = []
            try text.withUnsafeBytes { b in
                let run = reference ? scratch.referenceScan : { c, f, e, body in try scratch.scan(c, filter: f, onFailure: e, body) }
                try run(b, nil, { throw $0 }) { order.append($0.pattern) }
            }
            #expect(order == [1, 2, 0], "reference: \(reference)")
        }
    }
}
