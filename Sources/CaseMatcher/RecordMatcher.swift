import CaseCatalog
import LogSources

/// A symptom found in one record of a batch.
public struct SymptomHit {
    /// Index into the batch's segments: the record's origin, time and position.
    public var segment: Int
    /// Index into `CompiledCatalog.patterns`.
    public var pattern: Int
    /// The line's bytes in the batch, without its `\n`.
    public var line: Range<Int>
    /// The line's number in its stream (0 when the source does not number lines).
    public var lineNumber: Int
    /// The matched bytes in the batch.
    public var span: Range<Int>
    /// Named captures that took part in the match, in group order.
    public var captures: [(name: String, value: String)]
    /// Set when the line was cut at the matcher's line cap: the bytes matched.
    public var truncatedAt: Int? = nil
}

/// A hit PCRE2 could not decide: reported, never read as "no match".
public struct SymptomFailure: Error {
    public var segment: Int
    public var pattern: Int
    public var line: Range<Int>
    public var lineNumber: Int
    public var error: PCRE2Error
}

/// The matcher stage: a batch of records in, symptom hits out. One Hyperscan call scans the
/// whole batch, whatever the number of records; scopes are applied per record; PCRE2 runs only
/// on hits. No correlation here. One per task: it owns the task's scratch, while the compiled
/// catalog is shared.
public final class RecordMatcher {
    public let compiled: CompiledCatalog
    public let scratch: MatchScratch
    private var filters: [Origin: PatternFilter?] = [:]
    private let scoped: Bool

    /// Lines longer than this are matched on their first `lineCap` bytes.
    public var lineCap: Int {
        get { scratch.lineCap }
        set { scratch.lineCap = newValue }
    }

    public init(compiled: CompiledCatalog) throws {
        self.compiled = compiled
        scratch = try compiled.makeScratch()
        scoped = compiled.patterns.contains { !$0.scope.isUniversal }
    }

    private func filter(for origin: Origin) -> PatternFilter? {
        if let f = filters[origin] { return f }
        if filters.count >= 4096 { filters.removeAll(keepingCapacity: true) }  // bounded
        let f = compiled.filter(for: origin)
        filters[origin] = f
        return f
    }

    /// Sanitizes the batch in place (ANSI escapes, CR line ends) and scans it.
    /// With `reference`, every pattern runs alone through PCRE2 (parity tests).
    public func match(
        _ batch: RecordBatch, reference: Bool = false,
        onFailure: (SymptomFailure) throws -> Void, _ body: (SymptomHit) throws -> Void
    ) throws {
        if batch.isEmpty { return }
        batch.sanitize(LineSanitizer.sanitize)
        let bytes = batch.bytes
        let segments = batch.segments
        // Line numbers, counted forward from the last hit of the same segment.
        var counted = (segment: -1, offset: 0, line: 0)
        func locate(_ lineStart: Int) -> (Int, Int) {
            let s = segments.count == 1 ? 0 : batch.segmentIndex(at: lineStart)
            if counted.segment != s || counted.offset > lineStart {
                counted = (s, segments[s].range.lowerBound, segments[s].firstLine)
            }
            counted.line += countNewlines(UnsafeRawBufferPointer(rebasing: bytes[counted.offset..<lineStart]))
            counted.offset = lineStart
            return (s, segments[s].firstLine == 0 ? 0 : counted.line)
        }
        var lastFilter: (segment: Int, filter: PatternFilter?) = (-1, nil)
        func admit(_ pattern: Int, _ lineStart: Int) -> Bool {
            guard scoped else { return true }
            let s = segments.count == 1 ? 0 : batch.segmentIndex(at: lineStart)
            if lastFilter.segment != s { lastFilter = (s, filter(for: segments[s].origin)) }
            return lastFilter.filter?.admits(pattern) ?? true
        }
        func failure(_ f: MatchFailure) throws {
            let (s, n) = locate(f.line.lowerBound)
            try onFailure(SymptomFailure(segment: s, pattern: f.pattern, line: f.line, lineNumber: n, error: f.error))
        }
        func hit(_ m: SymptomMatch) throws {
            let (s, n) = locate(m.line.lowerBound)
            try body(SymptomHit(segment: s, pattern: m.pattern, line: m.line, lineNumber: n, span: m.span, captures: m.captures, truncatedAt: m.truncatedAt))
        }
        if reference {
            // Per segment: the reference engine has no per-hit scope hook.
            for segment in segments {
                let chunk = UnsafeRawBufferPointer(rebasing: bytes[segment.range])
                let offset = segment.range.lowerBound
                try scratch.referenceScan(chunk, filter: filter(for: segment.origin), onFailure: { f in
                    var f = f
                    f.line = f.line.lowerBound + offset..<f.line.upperBound + offset
                    try failure(f)
                }) { m in
                    var m = m
                    m.line = m.line.lowerBound + offset..<m.line.upperBound + offset
                    m.span = m.span.lowerBound + offset..<m.span.upperBound + offset
                    try hit(m)
                }
            }
        } else {
            try scratch.scan(bytes, admit: admit, onFailure: failure, hit)
        }
    }
}
