import CVectorscan
import CaseCatalog
import Foundation

/// A confirmed symptom match in one line of a scanned chunk.
public struct SymptomMatch {
    /// Index into `CompiledCatalog.patterns`.
    public var pattern: Int
    /// The line's bytes in the chunk, without its terminator.
    public var line: Range<Int>
    /// The matched bytes, relative to the chunk.
    public var span: Range<Int>
    /// Named captures that took part in the match, in group order.
    public var captures: [(name: String, value: String)]
    /// Set when the line was longer than `MatchScratch.lineCap`: only this many bytes of it
    /// were matched (and `line` is that part).
    public var truncatedAt: Int? = nil
}

/// PCRE2 failed on a hit (match or depth limit, JIT stack): the line could not be decided.
public struct MatchFailure: Error, Sendable, CustomStringConvertible {
    /// Index into `CompiledCatalog.patterns`.
    public var pattern: Int
    /// The line's bytes in the scanned chunk.
    public var line: Range<Int>
    public var error: PCRE2Error

    public var description: String { "pattern \(pattern): \(error)" }
}

/// Which patterns apply to one stream, decided once per stream from the scopes.
public struct PatternFilter: Sendable {
    let admitted: [Bool]

    public func admits(_ pattern: Int) -> Bool { admitted[pattern] }
}

extension CompiledCatalog {
    /// The filter for a stream of this origin; `nil` when every pattern applies.
    public func filter(for origin: Origin) -> PatternFilter? {
        let admitted = patterns.map { $0.scope.admits(origin) }
        return admitted.allSatisfy { $0 } ? nil : PatternFilter(admitted: admitted)
    }
}

/// Raw hits as Hyperscan reports them: `end offset << 24 | pattern id`, so sorting orders them
/// by position. Grows only when a chunk has more hits than ever before.
///
/// A pattern such as `error.*[0-9]+` is reported at every end offset where it matches, dozens
/// of times in one line; only the first report of a pattern in a line is kept. `lastEnd[id]` is
/// 1 + the end of the pattern's last kept report in this chunk (0: none yet); a new report is
/// another line only if a newline lies between.
struct HitBuffer {
    var base: UnsafeMutablePointer<UInt64>
    var count = 0
    var capacity: Int
    /// The chunk being scanned.
    var chunk: UnsafePointer<UInt8>?
    let lastEnd: UnsafeMutablePointer<UInt64>

    static let idBits: UInt64 = 24

    init(capacity: Int, patterns: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
        lastEnd = .allocate(capacity: max(patterns, 1))
        lastEnd.initialize(repeating: 0, count: max(patterns, 1))
    }

    /// Keeps the report unless the same pattern was already reported in the same line.
    mutating func report(_ id: UInt32, _ end: UInt64) {
        let previous = lastEnd[Int(id)]
        if previous != 0, let chunk {
            // Same line when no newline lies between the two reports' last matched bytes (the
            // earlier included, the later not): a line is the one holding a match's last byte.
            // Either report may be the earlier one, so a report out of order never reads backwards.
            let a = Int(previous) - 2, b = Int(end) - 1
            if memchr(chunk + min(a, b), 0x0A, abs(b - a)) == nil {
                return
            }
        }
        lastEnd[Int(id)] = end + 1
        append(id, end)
    }

    /// Forgets the chunk's reports; only the patterns that were reported are touched.
    mutating func reset() {
        for i in 0..<count { lastEnd[Int(base[i] & (1 << Self.idBits - 1))] = 0 }
        count = 0
    }

    mutating func append(_ id: UInt32, _ end: UInt64) {
        if count == capacity {
            let bigger = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity * 2)
            bigger.moveInitialize(from: base, count: count)
            base.deallocate()
            base = bigger
            capacity *= 2
        }
        base[count] = end << Self.idBits | UInt64(id)
        count += 1
    }
}

private let onMatch: @convention(c) (UInt32, UInt64, UInt64, UInt32, UnsafeMutableRawPointer?) -> Int32 = {
    id, _, end, _, context in
    context!.assumingMemoryBound(to: HitBuffer.self).pointee.report(id, end)
    return 0
}

/// One scanning task's mutable state: the Hyperscan scratch, the hit buffer, and PCRE2 patterns
/// with their match data (compiled on a pattern's first hit). Not shareable between tasks.
public final class MatchScratch {
    public let compiled: CompiledCatalog
    private var scratch: OpaquePointer?
    private var hits: UnsafeMutablePointer<HitBuffer>
    private var confirmers: [(pattern: PCRE2Pattern, data: PCRE2MatchData)?]
    /// Per pattern, 1 + the start of the last line it was tried on, to try each line once.
    private var triedAt: [Int]
    /// The confirmed matches of the line being delivered, to order them.
    private var pending: [SymptomMatch] = []
    /// Lines longer than this are matched on their first `lineCap` bytes only (the rule of
    /// `--max-line-length`, for inputs scanned without a line reader in front).
    public var lineCap = Int.max
    /// Reports the match callback kept so far (one per pattern and line), before PCRE2 confirms
    /// them.
    public private(set) var rawHits = 0

    /// The corresponding C function is `hs_alloc_scratch`.
    init(_ compiled: CompiledCatalog) throws(VectorscanError) {
        self.compiled = compiled
        if let db = compiled.database {
            try VectorscanError.check(hs_alloc_scratch(db, &scratch), "Failed to allocate scratch")
        }
        hits = .allocate(capacity: 1)
        hits.initialize(to: HitBuffer(capacity: 256, patterns: compiled.patterns.count))
        confirmers = Array(repeating: nil, count: compiled.patterns.count)
        triedAt = Array(repeating: 0, count: compiled.patterns.count)
    }

    deinit {
        if let scratch { hs_free_scratch(scratch) }
        hits.pointee.base.deallocate()
        hits.pointee.lastEnd.deallocate()
        hits.deallocate()
    }

    /// Scans a chunk of whole lines separated by `\n` (the last may lack it) and calls `body`
    /// for every (pattern, line) pair that PCRE2 confirms. Order: by line; within a line by the
    /// start of the match, then by pattern id (catalog order), the same for both engines.
    /// A PCRE2 failure (match or depth limit, JIT stack) on a hit goes to `onFailure`, never
    /// counts as "no match", and scanning goes on with the next hit.
    /// The corresponding C function is `hs_scan`.
    public func scan(
        _ chunk: UnsafeRawBufferPointer, filter: PatternFilter? = nil,
        onFailure: (MatchFailure) throws -> Void, _ body: (SymptomMatch) throws -> Void
    ) throws {
        if let filter {
            try scan(chunk, admit: { pattern, _ in filter.admits(pattern) }, onFailure: onFailure, body)
        } else {
            try scan(chunk, admit: { _, _ in true }, onFailure: onFailure, body)
        }
    }

    /// As `scan(_:filter:onFailure:_:)`, with `admit(pattern, lineStart)` deciding per hit
    /// whether the pattern applies to the line (a batch of records of several origins).
    public func scan(
        _ chunk: UnsafeRawBufferPointer, admit: (Int, Int) -> Bool,
        onFailure: (MatchFailure) throws -> Void, _ body: (SymptomMatch) throws -> Void
    ) throws {
        guard let db = compiled.database, chunk.count > 0 else { return }
        let base = chunk.baseAddress!.assumingMemoryBound(to: CChar.self)
        hits.pointee.chunk = chunk.baseAddress!.assumingMemoryBound(to: UInt8.self)
        defer { hits.pointee.reset() }
        try VectorscanError.check(
            hs_scan(db, base, UInt32(chunk.count), 0, scratch, onMatch, hits),
            "Failed to scan")
        let count = hits.pointee.count
        if count == 0 { return }
        rawHits += count
        var raw = UnsafeMutableBufferPointer(start: hits.pointee.base, count: count)
        raw.sort()

        defer {
            // Reset for the next chunk, whose offsets start again at 0.
            for packed in raw { triedAt[Int(packed & (1 << HitBuffer.idBits - 1))] = 0 }
        }
        let bytes = chunk.bindMemory(to: UInt8.self)
        var lineStart = 0, lineEnd = -1
        pending.removeAll(keepingCapacity: true)
        for packed in raw {
            let id = Int(packed & (1 << HitBuffer.idBits - 1))
            let end = Int(packed >> HitBuffer.idBits)
            let last = max(end - 1, 0)
            if last < lineStart || last > lineEnd {
                try deliverPending(body)
                // The line holding the last matched byte; a `\n` belongs to the line it ends.
                lineStart = last
                while lineStart > 0 && bytes[lineStart - 1] != 0x0A { lineStart -= 1 }
                if bytes[last] == 0x0A {
                    lineEnd = last
                } else {
                    lineEnd = last
                    while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
                }
            }
            if triedAt[id] == lineStart + 1 { continue }
            triedAt[id] = lineStart + 1
            if !admit(id, lineStart) { continue }
            let cut = lineEnd - lineStart > lineCap
            let matchedEnd = cut ? lineStart + lineCap : lineEnd
            do {
                if var match = try confirm(id, UnsafeRawBufferPointer(rebasing: chunk[lineStart..<matchedEnd]), offset: lineStart) {
                    if cut { match.truncatedAt = lineCap }
                    pending.append(match)
                }
            } catch {
                try onFailure(MatchFailure(pattern: id, line: lineStart..<matchedEnd, error: error))
            }
        }
        try deliverPending(body)
    }

    /// Hands over the matches of one line in the documented order.
    private func deliverPending(_ body: (SymptomMatch) throws -> Void) throws {
        if pending.isEmpty { return }
        if pending.count > 1 {
            pending.sort { ($0.span.lowerBound, $0.pattern) < ($1.span.lowerBound, $1.pattern) }
        }
        defer { pending.removeAll(keepingCapacity: true) }
        for m in pending { try body(m) }
    }

    /// Runs one pattern's PCRE2 program over one line: the exact answer and the captures.
    private func confirm(_ id: Int, _ line: UnsafeRawBufferPointer, offset: Int) throws(PCRE2Error) -> SymptomMatch? {
        let (pattern, data) = try confirmer(id)
        guard try pattern.match(line, data), let span = data.range(0) else { return nil }
        var captures: [(String, String)] = []
        for (name, group) in pattern.names {
            if let r = data.range(group) {
                captures.append((name, String(decoding: UnsafeRawBufferPointer(rebasing: line[r]), as: UTF8.self)))
            }
        }
        return SymptomMatch(
            pattern: id, line: offset..<offset + line.count,
            span: offset + span.lowerBound..<offset + span.upperBound, captures: captures)
    }

    /// The PCRE2 program of a pattern, compiled on its first hit. Every regex was validated when
    /// the database was built; should one still fail here, that is an error for the caller to
    /// report, never a quiet "no match".
    private func confirmer(_ id: Int) throws(PCRE2Error) -> (PCRE2Pattern, PCRE2MatchData) {
        if let c = confirmers[id] { return c }
        let p = compiled.patterns[id]
        let pattern = try PCRE2Pattern(p.regex, caseless: p.caseless)
        let c = (pattern, PCRE2MatchData(pairs: pattern.captureCount + 1))
        confirmers[id] = c
        return c
    }

    /// The reference engine: every pattern run alone through PCRE2 over every line, no
    /// Hyperscan. Same contract and order as `scan`; for parity tests and the comparison benchmark.
    public func referenceScan(
        _ chunk: UnsafeRawBufferPointer, filter: PatternFilter? = nil,
        onFailure: (MatchFailure) throws -> Void, _ body: (SymptomMatch) throws -> Void
    ) throws {
        guard chunk.count > 0 else { return }
        let bytes = chunk.bindMemory(to: UInt8.self)
        var start = 0
        pending.removeAll(keepingCapacity: true)
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            let cut = end - start > lineCap
            let line = UnsafeRawBufferPointer(rebasing: chunk[start..<(cut ? start + lineCap : end)])
            for id in compiled.patterns.indices {
                if let filter, !filter.admits(id) { continue }
                do {
                    if var match = try confirm(id, line, offset: start) {
                        if cut { match.truncatedAt = lineCap }
                        pending.append(match)
                    }
                } catch {
                    try onFailure(MatchFailure(pattern: id, line: start..<start + line.count, error: error))
                }
            }
            try deliverPending(body)
            start = end + 1
        }
    }
}
