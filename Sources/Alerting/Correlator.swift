import CaseCatalog

/// A symptom seen in a log line, as the matcher reports it.
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

    public init(
        caseIndex: Int, symptomIndex: Int, origin: Origin, lineNumber: Int, line: String,
        captures: [Capture] = [], time: Double, truncatedAt: Int? = nil
    ) {
        self.caseIndex = caseIndex
        self.symptomIndex = symptomIndex
        self.origin = origin
        self.lineNumber = lineNumber
        self.line = line
        self.captures = captures
        self.time = time
        self.truncatedAt = truncatedAt
    }
}

/// Turns symptom events into alerts: evaluates the cases' triggers (sequences, counts,
/// `unless`) with a little state per case and stream, and marks generic cases that a more
/// specific case explains. Used alike by `casewatch scan` and the daemon.
public struct Correlator {
    public let catalog: Catalog

    private struct Progress {
        var step = 0
        var count = 0
        var startTime = 0.0
        var lastLine = 0
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
    /// When each case last fired, for supersedes.
    private var lastFired: [Int: Double] = [:]
    /// For each case, the cases that declare they supersede it.
    private let supersededBy: [[Int]]
    private let indexOfID: [String: Int]

    public init(catalog: Catalog) {
        self.catalog = catalog
        var indexOfID: [String: Int] = [:]
        for (i, c) in catalog.cases.enumerated() { indexOfID[c.id] = i }
        var supersededBy = Array(repeating: [Int](), count: catalog.cases.count)
        for (i, c) in catalog.cases.enumerated() {
            for generic in c.supersedes { if let g = indexOfID[generic] { supersededBy[g].append(i) } }
        }
        self.supersededBy = supersededBy
        self.indexOfID = indexOfID
    }

    /// Feeds one event; returns the alerts it completes (usually none or one).
    public mutating func feed(_ event: SymptomEvent) -> [Alert] {
        let knownCase = catalog.cases[event.caseIndex]
        let symptom = knownCase.symptoms[event.symptomIndex]
        let evidence = Evidence(
            symptomID: symptom.id, lineNumber: event.lineNumber, line: event.line, truncatedAt: event.truncatedAt)
        guard let trigger = knownCase.trigger else {
            return [fire(event, evidence: evidence, earlier: [], captures: event.captures)]
        }
        let key = Key(caseIndex: event.caseIndex, stream: event.origin.name)
        if trigger.unless.contains(symptom.id) {
            lastUnless[key] = event.time
            progress[key] = nil
            return []
        }
        // Symptoms the trigger does not name raise the case alone.
        if !trigger.steps.isEmpty && !trigger.namedSymptoms.contains(symptom.id) {
            return suppressed(key, trigger, at: event.time) ? [] : [fire(event, evidence: evidence, earlier: [], captures: event.captures)]
        }
        var p = progress[key] ?? Progress()
        if p.step > 0 && event.time - p.startTime > trigger.window { p = Progress() }
        if p.step > 0, let lines = trigger.windowLines, event.lineNumber - p.lastLine > lines { p = Progress() }

        if trigger.steps.isEmpty {
            // "N times within the window" over any of the case's symptoms.
            p.recent.append(event.time)
            p.recent.removeAll { event.time - $0 > trigger.window }
            p.evidence.append(evidence)
            if p.evidence.count > trigger.count { p.evidence.removeFirst(p.evidence.count - trigger.count) }
            guard p.recent.count >= trigger.count else {
                progress[key] = p
                return []
            }
            progress[key] = nil
            if suppressed(key, trigger, at: event.time) { return [] }
            return [fire(event, evidence: evidence, earlier: Array(p.evidence.dropLast()), captures: event.captures)]
        }

        let last = trigger.steps.count - 1
        if p.step <= last && trigger.steps[p.step].contains(symptom.id) {
            if p.step == 0 { p.startTime = event.time }
            p.lastLine = event.lineNumber
            if p.step < last {
                p.step += 1
                p.evidence.append(evidence)
                p.captures = merge(p.captures, event.captures)
                progress[key] = p
                return []
            }
            p.count += 1
            guard p.count >= trigger.count else {
                progress[key] = p
                return []
            }
            progress[key] = nil
            if suppressed(key, trigger, at: event.time) { return [] }
            return [fire(event, evidence: evidence, earlier: p.evidence, captures: merge(p.captures, event.captures))]
        }
        if trigger.steps[0].contains(symptom.id) && last > 0 {
            // A newer first step starts the sequence again.
            p = Progress(step: 1, count: 0, startTime: event.time, lastLine: event.lineNumber, evidence: [evidence], captures: event.captures)
        }
        progress[key] = p
        return []
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

    private mutating func fire(_ event: SymptomEvent, evidence: Evidence, earlier: [Evidence], captures: [Capture]) -> Alert {
        let knownCase = catalog.cases[event.caseIndex]
        let window = knownCase.trigger?.window ?? Trigger.defaultWindow
        let specific = supersededBy[event.caseIndex].filter { s in
            lastFired[s].map { event.time - $0 <= window } ?? false
        }
        let explains = knownCase.supersedes.compactMap { indexOfID[$0] }.filter { g in
            lastFired[g].map { event.time - $0 <= window } ?? false
        }
        lastFired[event.caseIndex] = event.time
        return Alert(
            knownCase: knownCase, origin: event.origin, evidence: evidence, earlier: earlier,
            captures: captures, time: event.time,
            supersededBy: specific.map { catalog.cases[$0].id },
            explains: explains.map { catalog.cases[$0].id })
    }
}
