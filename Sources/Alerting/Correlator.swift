import CaseCatalog
import LogSources

/// A symptom seen in a log line, as the matcher stage reports it.
public struct SymptomEvent: Sendable {
    public var caseIndex: Int
    public var symptomIndex: Int
    public var origin: Origin
    public var lineNumber: Int
    public var line: String
    public var captures: [Capture]
    /// Seconds since the epoch.
    public var time: Double
    public var truncatedAt: Int?
    public var context: [String]
    public var streamValues: [String: String]
    public var position: RecordPosition

    public init(
        caseIndex: Int, symptomIndex: Int, origin: Origin, lineNumber: Int, line: String,
        captures: [Capture] = [], time: Double, truncatedAt: Int? = nil, context: [String] = [],
        streamValues: [String: String] = [:], position: RecordPosition = .none
    ) {
        self.caseIndex = caseIndex
        self.symptomIndex = symptomIndex
        self.origin = origin
        self.lineNumber = lineNumber
        self.line = line
        self.captures = captures
        self.time = time
        self.truncatedAt = truncatedAt
        self.context = context
        self.streamValues = streamValues
        self.position = position
    }
}

/// The correlator stage: evaluates the cases' triggers (sequences, counts, `unless`) with a
/// little state per case and stream (one pod container, unit, file or input), and hands on the
/// cases they complete. Looking across streams (supersedes, dedup) is the alert book's job.
///
/// Its state is bounded: entries idle for longer than the longest window of the catalog are
/// dropped (they could not complete anything any more), and past `maxEntries` the least
/// recently used entries are evicted and counted in `evicted`.
public struct Correlator {
    public let catalog: Catalog
    public let maxEntries: Int
    /// Entries dropped because the state was full (not counting idle ones past every window).
    public private(set) var evicted = 0

    private struct Progress {
        var step = 0
        var count = 0
        var startTime = 0.0
        var lastLine = 0
        var touched = 0.0
        var evidence: [Evidence] = []
        var captures: [Capture] = []
        var recent: [Double] = []  // times of counted events, for count without steps
    }

    private struct Key: Hashable {
        var caseIndex: Int
        var stream: String
    }

    private var progress: [Key: Progress] = [:]
    private var lastUnless: [Key: Double] = [:]
    private let longestWindow: Double
    private var lastSweep = -Double.infinity

    public init(catalog: Catalog, maxEntries: Int = 10_000) {
        self.catalog = catalog
        self.maxEntries = max(maxEntries, 1)
        longestWindow = catalog.cases.compactMap { $0.trigger?.window }.max() ?? Trigger.defaultWindow
    }

    /// Entries held (sequence progress and `unless` marks).
    public var entries: Int { progress.count + lastUnless.count }

    /// Feeds one event; returns the cases it completes (usually none or one).
    public mutating func feed(_ event: SymptomEvent) -> [CaseEvent] {
        let knownCase = catalog.cases[event.caseIndex]
        let symptom = knownCase.symptoms[event.symptomIndex]
        let evidence = Evidence(
            symptomID: symptom.id, lineNumber: event.lineNumber, line: event.line, truncatedAt: event.truncatedAt)
        guard let trigger = knownCase.trigger else {
            return [complete(event, evidence: evidence, earlier: [], captures: event.captures)]
        }
        sweep(at: event.time)
        let key = Key(caseIndex: event.caseIndex, stream: event.origin.streamKey)
        if trigger.unless.contains(symptom.id) {
            lastUnless[key] = event.time
            progress[key] = nil
            bound()
            return []
        }
        // Symptoms the trigger does not name raise the case alone.
        if !trigger.steps.isEmpty && !trigger.namedSymptoms.contains(symptom.id) {
            return suppressed(key, trigger, at: event.time) ? [] : [complete(event, evidence: evidence, earlier: [], captures: event.captures)]
        }
        var p = progress[key] ?? Progress()
        p.touched = event.time
        if p.step > 0 && event.time - p.startTime > trigger.window { p = Progress(touched: event.time) }
        if p.step > 0, let lines = trigger.windowLines, event.lineNumber - p.lastLine > lines { p = Progress(touched: event.time) }

        if trigger.steps.isEmpty {
            // "N times within the window" over any of the case's symptoms.
            p.recent.append(event.time)
            p.recent.removeAll { event.time - $0 > trigger.window }
            p.evidence.append(evidence)
            if p.evidence.count > trigger.count { p.evidence.removeFirst(p.evidence.count - trigger.count) }
            guard p.recent.count >= trigger.count else {
                store(key, p)
                return []
            }
            progress[key] = nil
            if suppressed(key, trigger, at: event.time) { return [] }
            return [complete(event, evidence: evidence, earlier: Array(p.evidence.dropLast()), captures: event.captures)]
        }

        let last = trigger.steps.count - 1
        if p.step <= last && trigger.steps[p.step].contains(symptom.id) {
            if p.step == 0 { p.startTime = event.time }
            p.lastLine = event.lineNumber
            if p.step < last {
                p.step += 1
                p.evidence.append(evidence)
                p.captures = merge(p.captures, event.captures)
                store(key, p)
                return []
            }
            p.count += 1
            guard p.count >= trigger.count else {
                store(key, p)
                return []
            }
            progress[key] = nil
            if suppressed(key, trigger, at: event.time) { return [] }
            return [complete(event, evidence: evidence, earlier: p.evidence, captures: merge(p.captures, event.captures))]
        }
        if trigger.steps[0].contains(symptom.id) && last > 0 {
            // A newer first step starts the sequence again.
            p = Progress(
                step: 1, count: 0, startTime: event.time, lastLine: event.lineNumber, touched: event.time,
                evidence: [evidence], captures: event.captures)
        }
        store(key, p)
        return []
    }

    private mutating func store(_ key: Key, _ p: Progress) {
        progress[key] = p
        bound()
    }

    /// Drops what can no longer complete anything: idle past the longest window.
    private mutating func sweep(at time: Double) {
        guard time - lastSweep > longestWindow else { return }
        lastSweep = time
        progress = progress.filter { time - $0.value.touched <= longestWindow }
        lastUnless = lastUnless.filter { time - $0.value <= longestWindow }
    }

    /// Keeps at most `maxEntries`, evicting the least recently touched.
    private mutating func bound() {
        let excess = progress.count + lastUnless.count - maxEntries
        guard excess > 0 else { return }
        // Rare: evict a tenth at once so the sort is paid seldom.
        let n = max(excess, maxEntries / 10)
        var ages = progress.map { (key: $0.key, time: $0.value.touched, unless: false) }
        ages += lastUnless.map { (key: $0.key, time: $0.value, unless: true) }
        ages.sort { $0.time < $1.time }
        for a in ages.prefix(n) {
            if a.unless { lastUnless[a.key] = nil } else { progress[a.key] = nil }
        }
        evicted += min(n, ages.count)
    }

    private func suppressed(_ key: Key, _ trigger: Trigger, at time: Double) -> Bool {
        if let t = lastUnless[key], time - t <= trigger.window { return true }
        return false
    }

    private func merge(_ a: [Capture], _ b: [Capture]) -> [Capture] {
        var result = a
        for c in b {
            if let i = result.firstIndex(where: { $0.name == c.name }) { result[i] = c } else { result.append(c) }
        }
        return result
    }

    private func complete(_ event: SymptomEvent, evidence: Evidence, earlier: [Evidence], captures: [Capture]) -> CaseEvent {
        CaseEvent(
            caseIndex: event.caseIndex, knownCase: catalog.cases[event.caseIndex], origin: event.origin,
            evidence: evidence, earlier: earlier, captures: captures, time: event.time, context: event.context,
            streamValues: event.streamValues, position: event.position)
    }
}
