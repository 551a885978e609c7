import CaseCatalog
import CaseMatcher
import Foundation
import LogSources
import TestSupport
import Testing

/// The set of (symptom, line) hits of the compiled database must equal that of every symptom run
/// alone through PCRE2: on real logs, on random lines, for random patterns.
@Suite struct EngineParityTests {
    static let corpora = Paths.corpusFiles

    @Test(.needsShared) func corporaAreThere() {
        #expect(Self.corpora.count >= 20, "\(Paths.shared.path)/corpora has too few logs")
    }

    @Test(.needsShared, arguments: corpora)
    func corpusParity(path: String) throws {
        var reader = try ChunkedLineReader(path: path)
        var lines = 0
        try reader.forEachChunk { chunk in
            let text = Array(UnsafeRawBufferPointer(chunk.bytes))
            lines += countNewlines(UnsafeRawBufferPointer(chunk.bytes))
            let compiled = try hits(Builtin.compiled, .compiled, text)
            let reference = try hits(Builtin.compiled, .reference, text)
            #expect(compiled == reference, "\(path) from line \(chunk.firstLine)")
        }
        #expect(lines > 0)
    }

    /// Random literal patterns (regex-escaped, some caseless) over random lines that often
    /// contain them, split across lines, next to invalid UTF-8 and control bytes.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func randomLiteralPatterns(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let alphabet = Array("abcdefghij.*+?()[]{}|^$\\ -_:/\"'AB".utf8)
        func word(_ n: Int) -> [UInt8] { (0..<n).map { _ in alphabet.randomElement(using: &rng)! } }
        let literals = (0..<200).map { _ in word(Int.random(in: 3...10, using: &rng)) }
        let patterns: [(String, Symptom.Flags)] = literals.map { lit in
            let escaped = lit.map { b -> String in
                let c = String(UnicodeScalar(b))
                return ".*+?()[]{}|^$\\".contains(c) ? "\\" + c : c
            }.joined()
            return (escaped, Bool.random(using: &rng) ? [.caseless] : [])
        }
        let compiled = try CompiledCatalog(catalog: catalog(patterns))
        var text: [UInt8] = []
        for _ in 0..<400 {
            var line = word(Int.random(in: 0...20, using: &rng))
            if Int.random(in: 0..<3, using: &rng) == 0 { line += literals.randomElement(using: &rng)! }
            if Int.random(in: 0..<5, using: &rng) == 0 { line += [0xFF, 0xC3, 0x28, 0x00, 0x1B] }
            if Int.random(in: 0..<4, using: &rng) == 0 { line += Array(literals.randomElement(using: &rng)!.prefix(2)) }
            line += word(Int.random(in: 0...20, using: &rng))
            text += line + [0x0A]
        }
        #expect(try hits(compiled, .compiled, text) == hits(compiled, .reference, text))
    }

    /// Patterns with classes, repeats, anchors and alternations, where Hyperscan's chunked
    /// multi-line scan could differ from PCRE2 on one line if offsets were mapped wrongly.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func randomRegexShapes(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let atoms = ["a", "b", "c", "[ab]", "[^a]", "\\d", "\\s", "\\w+", ".", "x?", "(a|bc)", "[0-9]{2,3}", "\\S*"]
        func regex() -> String {
            var r = Bool.random(using: &rng) ? "^" : ""
            for _ in 0..<Int.random(in: 2...5, using: &rng) { r += atoms.randomElement(using: &rng)! }
            r += "z"  // never empty
            if Bool.random(using: &rng) { r += "$" }
            return r
        }
        let patterns = (0..<60).map { _ in (regex(), Bool.random(using: &rng) ? Symptom.Flags.caseless : []) }
        let compiled = try CompiledCatalog(catalog: catalog(patterns))
        let letters = Array("abcxzZ 0123\t".utf8)
        var text: [UInt8] = []
        for _ in 0..<500 {
            text += (0..<Int.random(in: 0...30, using: &rng)).map { _ in letters.randomElement(using: &rng)! } + [0x0A]
        }
        #expect(try hits(compiled, .compiled, text) == hits(compiled, .reference, text))
    }
}

@Suite struct ConcurrentScanTests {
    /// One immutable CompiledCatalog, several tasks each with its own scratch: every task finds
    /// exactly what a lone scan finds.
    @Test(.needsShared) func tasksShareTheDatabaseWithTheirOwnScratch() async throws {
        let journal = Paths.shared.appendingPathComponent("corpora/loki-drain-testdata/journald.txt").path
        let text = Array(try Data(contentsOf: URL(fileURLWithPath: journal)))
        let expected = try hits(Builtin.compiled, .compiled, text)
        #expect(expected.count == 93)
        let results = try await withThrowingTaskGroup(of: [Hit].self) { group in
            for _ in 0..<4 {
                group.addTask { try hits(Builtin.compiled, .compiled, text) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 4)
        for r in results { #expect(r == expected) }
    }
}
