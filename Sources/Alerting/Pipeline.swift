import CaseCatalog
import CaseMatcher
import Foundation
import LogSources

/// A hit that PCRE2 could not decide, with where it happened: reported, never read as "no
/// match". `scan` exits 2 after such a failure; the daemon counts them.
public struct MatchError: Error, Sendable, CustomStringConvertible {
    public var caseID: String
    public var symptomID: String
    public var source: String
    public var lineNumber: Int
    public var underlying: PCRE2Error

    public var description: String {
        "\(source):\(lineNumber): case \(caseID), symptom \(symptomID): Failed to match: \(underlying)"
    }
}

/// The stages of ../shared/DESIGN.md behind one call: a batch of records goes through the
/// matcher (one scan), the correlator (per stream) and the alert book (across streams), and
/// the resulting notifications come out in record order. `casewatch scan` and the daemon both
/// drive it; the daemon's sources fill the batches, `scan` its reader.
public final class Pipeline {
    public struct Options: Sendable {
        public var book: AlertBook.Options
        /// Lines of the same stream quoted before the evidence.
        public var contextBefore: Int
        /// The reference engine (PCRE2 alone, every pattern on every line): for parity tests.
        public var reference: Bool

        public init(book: AlertBook.Options = .init(), contextBefore: Int = 3, reference: Bool = false) {
            self.book = book
            self.contextBefore = max(contextBefore, 0)
            self.reference = reference
        }
    }

    /// What went through, for `--stats`, STATUS= and the metrics.
    public struct Stats: Sendable {
        public var batches = 0
        public var segments = 0
        public var bytes = 0
        public var rawHits = 0
        public var symptomHits = 0
        public var matchedLines = 0
        public var cases = 0
        public var notifications = 0
        public var matchErrors = 0
    }

    public let compiled: CompiledCatalog
    public let options: Options
    public let matcher: RecordMatcher
    public private(set) var correlator: Correlator
    public let book: AlertBook
    public private(set) var stats = Stats()
    /// Told the case id of every symptom hit (before correlation), for the daemon's metrics.
    public var onSymptomHit: ((_ caseID: String) -> Void)?
    private var contexts: [Origin: ContextRing] = [:]
    /// Per stream: the values it printed before (release, revision...), for placeholders.
    private var values: [Origin: [String: String]] = [:]

    public init(compiled: CompiledCatalog, options: Options = Options()) throws {
        self.compiled = compiled
        self.options = options
        matcher = try RecordMatcher(compiled: compiled)
        correlator = Correlator(catalog: compiled.catalog)
        book = AlertBook(catalog: compiled.catalog, options: options.book)
    }

    /// Runs one batch through every stage. `emit` gets the notifications, `failed` the hits
    /// PCRE2 could not decide. The batch's bytes are sanitized in place.
    public func process(
        _ batch: RecordBatch, failed: (MatchError) throws -> Void = { _ in }, emit: (Alert) throws -> Void
    ) throws {
        guard !batch.isEmpty else { return }
        var state = BatchState()
        let rawBefore = matcher.scratch.rawHits
        try matcher.match(batch, reference: options.reference, onFailure: { f in
            try handle(f, batch, failed)
        }) { hit in
            try handle(hit, batch, &state, emit)
        }
        try finish(batch, &state, rawHits: matcher.scratch.rawHits - rawBefore, emit)
    }

    /// A batch matched by a matcher of another task (`Pipeline.match`), to be correlated here
    /// in input order: the matching of large inputs runs on every core, correlation in order.
    public struct MatchedBatch {
        public let batch: RecordBatch
        public var hits: [SymptomHit] = []
        public var failures: [SymptomFailure] = []
        public var rawHits = 0
        /// Newlines in the batch (its lines, when the last one ends in `\n`).
        public var newlines = 0
    }

    /// The matcher stage alone, with a matcher owned by the calling task: safe to run on
    /// several threads at once, each with its own matcher, for batches of one input.
    public static func match(_ batch: RecordBatch, with matcher: RecordMatcher, countLines: Bool = true) throws -> MatchedBatch {
        var m = MatchedBatch(batch: batch)
        let before = matcher.scratch.rawHits
        try matcher.match(batch, onFailure: { m.failures.append($0) }) { m.hits.append($0) }
        m.rawHits = matcher.scratch.rawHits - before
        if countLines { m.newlines = countNewlines(batch.bytes) }
        return m
    }

    /// The correlator and alert book for a batch matched elsewhere; `lineOffset` is added to
    /// its line numbers (the lines of the input before the batch).
    public func correlate(
        _ matched: MatchedBatch, lineOffset: Int = 0, failed: (MatchError) throws -> Void = { _ in },
        emit: (Alert) throws -> Void
    ) throws {
        let batch = matched.batch
        guard !batch.isEmpty else { return }
        var state = BatchState()
        var f = matched.failures.makeIterator(), next = f.next()
        for var hit in matched.hits {
            while let failure = next, failure.line.lowerBound <= hit.line.lowerBound {
                var failure = failure
                failure.lineNumber += lineOffset
                try handle(failure, batch, failed)
                next = f.next()
            }
            hit.lineNumber += lineOffset
            try handle(hit, batch, &state, emit)
        }
        while var failure = next {
            failure.lineNumber += lineOffset
            try handle(failure, batch, failed)
            next = f.next()
        }
        try finish(batch, &state, rawHits: matched.rawHits, emit)
    }

    /// Per batch: how far the context rings are, the last matched line.
    private struct BatchState {
        var ringsThrough = 0
        var lastLine = (segment: -1, line: -1)
    }

    private func handle(_ f: SymptomFailure, _ batch: RecordBatch, _ failed: (MatchError) throws -> Void) throws {
        let p = compiled.patterns[f.pattern]
        if p.isStreamValue { return }  // only a hint for placeholders: nothing is missed
        let c = compiled.catalog.cases[p.caseIndex]
        stats.matchErrors += 1
        try failed(MatchError(
            caseID: c.id, symptomID: c.symptoms[p.symptomIndex].id,
            source: batch.segments[f.segment].origin.name, lineNumber: f.lineNumber, underlying: f.error))
    }

    private func handle(_ hit: SymptomHit, _ batch: RecordBatch, _ state: inout BatchState, _ emit: (Alert) throws -> Void) throws {
        let segment = batch.segments[hit.segment]
        let p = compiled.patterns[hit.pattern]
        if p.isStreamValue {
            remember(hit.captures, in: segment.origin)
            return
        }
        if options.contextBefore > 0 {
            while state.ringsThrough < hit.segment {
                keepContext(batch, state.ringsThrough)
                state.ringsThrough += 1
            }
        }
        stats.symptomHits += 1
        onSymptomHit?(compiled.catalog.cases[p.caseIndex].id)
        if state.lastLine != (hit.segment, hit.line.lowerBound) {
            stats.matchedLines += 1
            state.lastLine = (hit.segment, hit.line.lowerBound)
        }
        let bytes = batch.bytes
        let event = SymptomEvent(
            caseIndex: p.caseIndex, symptomIndex: p.symptomIndex, origin: segment.origin,
            lineNumber: hit.lineNumber, line: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[hit.line]), as: UTF8.self),
            captures: hit.captures.map { Capture(name: $0.name, value: $0.value) }, time: segment.time,
            truncatedAt: hit.truncatedAt ?? segment.truncatedAt, context: context(batch, hit.segment, before: hit.line.lowerBound),
            streamValues: values[segment.origin] ?? [:], position: segment.end)
        for caseEvent in correlator.feed(event) {
            stats.cases += 1
            for alert in book.record(caseEvent) {
                stats.notifications += 1
                try emit(alert)
            }
        }
    }

    private func finish(_ batch: RecordBatch, _ state: inout BatchState, rawHits: Int, _ emit: (Alert) throws -> Void) throws {
        stats.batches += 1
        stats.segments += batch.segments.count
        stats.bytes += batch.count
        stats.rawHits += rawHits
        if options.contextBefore > 0 {
            while state.ringsThrough < batch.segments.count {
                keepContext(batch, state.ringsThrough)
                state.ringsThrough += 1
            }
        }
        if let t = batch.segments.last?.time {
            for alert in book.advance(to: t) {
                stats.notifications += 1
                try emit(alert)
            }
        }
    }

    /// Moves the alert book's clock while no records arrive (the daemon's wall clock).
    public func tick(now: Double, emit: (Alert) throws -> Void) rethrows {
        for alert in book.advance(to: now) {
            stats.notifications += 1
            try emit(alert)
        }
    }

    /// At the end of a saved input: the final counts of the alerts that repeated.
    public func finish(emit: (Alert) throws -> Void) rethrows {
        for alert in book.finish() {
            stats.notifications += 1
            try emit(alert)
        }
    }

    private func remember(_ captures: [(name: String, value: String)], in origin: Origin) {
        if values[origin] == nil, values.count >= 10_000 { values.removeAll(keepingCapacity: true) }  // bounded
        for c in captures { values[origin, default: [:]][c.name] = c.value }
    }

    /// The `contextBefore` lines before byte `lineStart` in its stream: from the segment, then
    /// from the stream's ring of earlier lines.
    private func context(_ batch: RecordBatch, _ s: Int, before lineStart: Int) -> [String] {
        let n = options.contextBefore
        guard n > 0 else { return [] }
        let segment = batch.segments[s]
        let bytes = batch.bytes
        var lines: [String] = []
        var end = lineStart  // just after the `\n` ending the previous line
        while lines.count < n && end > segment.range.lowerBound {
            var start = end - 1
            while start > segment.range.lowerBound && bytes[start - 1] != 0x0A { start -= 1 }
            lines.append(ContextRing.clip(UnsafeRawBufferPointer(rebasing: bytes[start..<end - 1])))
            end = start
        }
        if lines.count < n, let ring = contexts[segment.origin] {
            lines += ring.lines.reversed().prefix(n - lines.count)
        }
        return lines.reversed()
    }

    /// Keeps the last lines of a segment as the context of what comes next in its stream.
    /// Allocates nothing once the stream's ring exists.
    private func keepContext(_ batch: RecordBatch, _ s: Int) {
        let segment = batch.segments[s]
        let bytes = batch.bytes
        let n = options.contextBefore
        var end = segment.range.upperBound
        if end > segment.range.lowerBound && bytes[end - 1] == 0x0A { end -= 1 }
        // Back to the start of the n-th last line...
        var start = end, lines = 1
        while start > segment.range.lowerBound {
            if bytes[start - 1] == 0x0A {
                if lines == n { break }
                lines += 1
            }
            start -= 1
        }
        let ring: ContextRing
        if let r = contexts[segment.origin] {
            ring = r
        } else {
            if contexts.count >= 10_000 { contexts.removeAll(keepingCapacity: true) }  // bounded
            ring = ContextRing(capacity: n)
            contexts[segment.origin] = ring
        }
        // ...then forward, oldest first.
        var lineStart = start
        while lineStart <= end {
            var lineEnd = lineStart
            while lineEnd < end && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            ring.push(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd]))
            lineStart = lineEnd + 1
        }
    }
}

/// The last few lines of one stream, in a fixed buffer: keeping them allocates nothing once
/// the ring exists; only quoting them in an alert makes strings.
final class ContextRing {
    static let maxLineBytes = 512
    private let capacity: Int
    private var storage: [UInt8]
    private var lengths: [Int]
    private var next = 0
    private var filled = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        storage = Array(repeating: 0, count: self.capacity * Self.maxLineBytes)
        lengths = Array(repeating: 0, count: self.capacity)
    }

    func push(_ line: UnsafeRawBufferPointer) {
        let n = min(line.count, Self.maxLineBytes)
        storage.withUnsafeMutableBytes { s in
            if n > 0 { (s.baseAddress! + next * Self.maxLineBytes).copyMemory(from: line.baseAddress!, byteCount: n) }
        }
        lengths[next] = n
        next = (next + 1) % capacity
        filled = min(filled + 1, capacity)
    }

    /// Oldest first.
    var lines: [String] {
        (0..<filled).map { i in
            let slot = (next - filled + i + capacity) % capacity
            let start = slot * Self.maxLineBytes
            return String(decoding: storage[start..<start + lengths[slot]], as: UTF8.self)
        }
    }

    /// A context line as quoted in an alert: at most `maxLineBytes` bytes.
    static func clip(_ line: UnsafeRawBufferPointer) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<min(line.count, maxLineBytes)]), as: UTF8.self)
    }
}

extension Pipeline {
    /// Runs a whole text (tests, catalog examples) through the pipeline as one stream; throws
    /// the first hit PCRE2 could not decide, after the rest was scanned.
    public func alerts(text: String, origin: Origin, time: Double = 0) throws -> [Alert] {
        let batch = RecordBatch(capacity: text.utf8.count + 1)
        batch.append(text, origin: origin, firstLine: 1, time: time)
        var alerts: [Alert] = []
        var failure: MatchError?
        try process(batch, failed: { failure = failure ?? $0 }) { alerts.append($0) }
        if let failure { throw failure }
        return alerts
    }
}
