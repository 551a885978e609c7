import CaseCatalog
import CaseMatcher
import LogSources

/// The matching path of one task: sanitize a chunk of lines, scan it once with the compiled
/// catalog, confirm hits with PCRE2, number the lines, and correlate the symptoms into alerts.
/// `casewatch scan` and the tests drive it with whole files; the daemon with one stream each.
public final class LogScanner {
    /// Which engine finds the symptoms.
    public enum Engine: Sendable {
        /// One Hyperscan pass per chunk, PCRE2 on the hits: the product.
        case compiled
        /// Every symptom alone through PCRE2 on every line: the reference for parity tests.
        case reference
    }

    public let compiled: CompiledCatalog
    public let engine: Engine
    private let scratch: MatchScratch
    public private(set) var correlator: Correlator
    private var filters: [Origin: PatternFilter?] = [:]
    /// Symptom hits seen so far (before correlation).
    public private(set) var symptomHits = 0
    /// Lines with at least one symptom hit so far.
    public private(set) var matchedLines = 0
    private var lastMatched: (origin: Origin, line: Int)?

    /// Reports of the compiled engine kept so far (one per pattern and line), before PCRE2.
    public var rawHits: Int { scratch.rawHits }

    public init(compiled: CompiledCatalog, engine: Engine = .compiled) throws {
        self.compiled = compiled
        self.engine = engine
        scratch = try compiled.makeScratch()
        correlator = Correlator(catalog: compiled.catalog)
    }

    private func filter(for origin: Origin) -> PatternFilter? {
        if let f = filters[origin] { return f }
        let f = compiled.filter(for: origin)
        filters[origin] = f
        return f
    }

    /// Scans one chunk of whole lines in place (its bytes are rewritten by the sanitizer).
    public func scan(
        _ bytes: UnsafeMutableRawBufferPointer, firstLine: Int, truncated: Bool, origin: Origin, time: Double,
        _ emit: (Alert) throws -> Void
    ) throws {
        let length = LineSanitizer.sanitize(bytes)
        let chunk = UnsafeRawBufferPointer(start: bytes.baseAddress, count: length)
        let filter = filter(for: origin)
        var counted = 0
        var lineNumber = firstLine
        let run = engine == .compiled ? scratch.scan : scratch.referenceScan
        try run(chunk, filter) { match in
            lineNumber += countNewlines(UnsafeRawBufferPointer(rebasing: chunk[counted..<match.line.lowerBound]))
            counted = match.line.lowerBound
            symptomHits += 1
            if lastMatched?.line != lineNumber || lastMatched?.origin != origin {
                matchedLines += 1
                lastMatched = (origin, lineNumber)
            }
            let p = compiled.patterns[match.pattern]
            let event = SymptomEvent(
                caseIndex: p.caseIndex, symptomIndex: p.symptomIndex, origin: origin, lineNumber: lineNumber,
                line: String(decoding: UnsafeRawBufferPointer(rebasing: chunk[match.line]), as: UTF8.self),
                captures: match.captures.map { Capture(name: $0.name, value: $0.value) }, time: time,
                truncatedAt: truncated ? bytes.count : nil)
            for alert in correlator.feed(event) { try emit(alert) }
        }
    }

    /// Scans a whole text (tests, catalog examples) through the same path.
    public func scan(text: String, origin: Origin, time: Double = 0) throws -> [Alert] {
        var alerts: [Alert] = []
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return [] }
        try bytes.withUnsafeMutableBytes { buffer in
            try scan(buffer, firstLine: 1, truncated: false, origin: origin, time: time) { alerts.append($0) }
        }
        return alerts
    }
}
