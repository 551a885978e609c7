import Alerting
import CaseCatalog
import CaseMatcher
import TestSupport

/// The built-in catalog, loaded and compiled once for the whole test target.
enum Builtin {
    static let catalog: Catalog = {
        do { return try Catalog.load(directories: [Paths.patterns]) } catch { fatalError("catalog: \(error)") }
    }()
    static let compiled: CompiledCatalog = {
        do { return try CompiledCatalog(catalog: catalog) } catch { fatalError("compile: \(error)") }
    }()
}

/// A one-symptom-per-case catalog built in memory.
func catalog(_ regexes: [(String, Symptom.Flags)]) throws -> Catalog {
    try Catalog(cases: regexes.enumerated().map { i, r in
        Case(
            id: "case-\(i)", title: Localized(en: "t", zh: "t"), severity: .error,
            source: .init(seed: "s", heading: "h"),
            symptoms: [Symptom(id: "s", regex: r.0, flags: r.1)],
            diagnosis: Localized(en: "d", zh: "d"), fix: .init(text: Localized(en: "f", zh: "f")))
    })
}

let testOrigin = Origin(kind: .file, name: "test.log")

/// Which engine finds the symptoms.
enum Engine {
    /// One Hyperscan pass per chunk, PCRE2 on the hits: the product.
    case compiled
    /// Every symptom alone through PCRE2 on every line: the reference.
    case reference
}

/// (pattern, line number) pairs an engine finds in a text.
func hits(_ compiled: CompiledCatalog, _ engine: Engine, _ text: [UInt8], origin: Origin = testOrigin) throws -> [Hit] {
    let scratch = try compiled.makeScratch()
    var bytes = text
    var result: [Hit] = []
    try bytes.withUnsafeMutableBytes { buffer in
        let n = LineSanitizer.sanitize(buffer)
        let chunk = UnsafeRawBufferPointer(start: buffer.baseAddress, count: n)
        let filter = compiled.filter(for: origin)
        let body: (SymptomMatch) -> Void = { m in
            result.append(Hit(pattern: m.pattern, lineStart: m.line.lowerBound, captures: m.captures.map { "\($0.name)=\($0.value)" }))
        }
        switch engine {
        case .compiled: try scratch.scan(chunk, filter: filter, onFailure: { throw $0 }, body)
        case .reference: try scratch.referenceScan(chunk, filter: filter, onFailure: { throw $0 }, body)
        }
    }
    return result.sorted()
}

struct Hit: Hashable, Comparable, CustomStringConvertible {
    var pattern: Int
    var lineStart: Int
    var captures: [String]

    static func < (a: Hit, b: Hit) -> Bool { (a.lineStart, a.pattern) < (b.lineStart, b.pattern) }
    var description: String { "p\(pattern)@\(lineStart)\(captures.isEmpty ? "" : " \(captures)")" }
}
