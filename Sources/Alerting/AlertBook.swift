import CaseCatalog
import Foundation

/// The one place that looks across streams, one per process: turns the correlator's cases into
/// alert notifications.
///
/// - **Supersedes**: a specific case explains a generic one raised in the same namespace (or on
///   the same host, outside Kubernetes) within the generic case's window, in either order.
/// - **Deduplication**: the same case with the same dedup key (case + namespace/pod, unit or
///   file, refined by the captures the case names) within the window is one alert: a `firing`
///   notification at the first hit (count 1), a reminder carrying the count every `remind`
///   while it keeps firing, and a `resolved` notification with the final count once the window
///   passes quiet. Time is the records' own, so a saved log and a live stream agree.
/// - **Bounded**: at most `maxAlerts` incidents are held; past that the least recently seen is
///   resolved early and counted in `evicted`.
///
/// Its state (`snapshot()`) is saved beside the source positions, so a restarted daemon goes on
/// counting and still resolves what was firing.
public final class AlertBook {
    public struct Options: Sendable {
        /// false: every hit is its own alert (count 1, never resolved).
        public var dedup: Bool
        /// Seconds of quiet after which an alert resolves; repeats within it are counted.
        public var window: Double
        /// Seconds between reminders while an alert keeps firing.
        public var remind: Double
        /// Per case id: its own window.
        public var caseWindows: [String: Double]
        public var maxAlerts: Int

        public init(
            dedup: Bool = true, window: Double = 600, remind: Double = 3600, caseWindows: [String: Double] = [:],
            maxAlerts: Int = 10_000
        ) {
            self.dedup = dedup
            self.window = window
            self.remind = remind
            self.caseWindows = caseWindows
            self.maxAlerts = maxAlerts
        }
    }

    /// One open incident.
    struct Entry {
        var alert: Alert
        /// Count when the last notification went out.
        var notifiedCount: Int
        var lastNotified: Double
        /// Opening order, so notifications of equal times come out the same every run.
        var opened = 0
    }
    var opened = 0

    public let catalog: Catalog
    public let options: Options
    var open: [String: Entry] = [:]
    /// When each case last fired in each scope (namespace or host), for supersedes.
    var lastFired: [ScopeKey: Double] = [:]
    struct ScopeKey: Hashable {
        var caseIndex: Int
        var scope: String
    }
    private var supersededBy: [[Int]]
    var indexOfID: [String: Int] = [:]
    /// The earliest time an open alert may resolve (a lower bound: `advance` makes it exact).
    var nextResolve = Double.infinity

    /// When `advance` may next resolve something: nil with no alert open. A lower bound (a
    /// repeat pushes an alert's due time later); advancing the clock to it makes it exact.
    public var earliestResolve: Double? {
        open.isEmpty || !nextResolve.isFinite ? nil : nextResolve
    }
    /// The latest record time seen.
    public internal(set) var now = -Double.infinity
    /// Incidents resolved early because the book was full.
    public private(set) var evicted = 0

    public init(catalog: Catalog, options: Options = Options()) {
        self.catalog = catalog
        self.options = options
        for (i, c) in catalog.cases.enumerated() { indexOfID[c.id] = i }
        var supersededBy = Array(repeating: [Int](), count: catalog.cases.count)
        for (i, c) in catalog.cases.enumerated() {
            for generic in c.supersedes { if let g = indexOfID[generic] { supersededBy[g].append(i) } }
        }
        self.supersededBy = supersededBy
    }

    /// Open (firing) incidents.
    public var firing: [Alert] { open.values.sorted(by: Self.inOrder).map(\.alert) }

    /// First seen first; equal times in the order the incidents opened.
    static func inOrder(_ a: Entry, _ b: Entry) -> Bool {
        (a.alert.firstSeen, a.opened) < (b.alert.firstSeen, b.opened)
    }

    /// The dedup window of a case.
    public func window(for caseID: String) -> Double {
        options.caseWindows[caseID] ?? options.window
    }

    /// Captures that name the object of an incident: two releases failing, or two pods crashing,
    /// are two incidents even in one log.
    public static let refiningCaptures = ["release", "node", "container"]

    /// The dedup key of a case event: the case, where it happened (namespace/pod, unit or
    /// identifier, file, input), and the captures that name the place more precisely than the
    /// origin does (a pod or a release named in a line of a shared log).
    public static func dedupKey(_ event: CaseEvent) -> String {
        let o = event.origin
        func capture(_ name: String) -> String? { event.captures.last { $0.name == name }?.value }
        var key = event.knownCase.id + " "
        let namespace = o.namespace ?? capture("namespace")
        let pod = o.pod ?? capture("pod")
        if let pod {
            key += "pod:\(namespace ?? "")/\(pod)"
            if let c = o.container { key += "/\(c)" }
        } else if let namespace {
            key += "namespace:\(namespace)"
        }
        if o.pod == nil {
            // Not a pod's own log: the source it came from.
            if pod != nil || namespace != nil { key += " in " }
            if let unit = o.unit {
                key += "unit:\(o.host.map { $0 + "/" } ?? "")\(unit)"
            } else if let id = o.identifier {
                key += "identifier:\(o.host.map { $0 + "/" } ?? "")\(id)"
            } else if let file = o.file {
                key += "file:\(file)"
            } else {
                key += "\(o.kind.rawValue):\(o.name)"
            }
        }
        for name in refiningCaptures where !(name == "container" && o.container != nil) {
            if let v = capture(name) { key += " \(name)=\(v)" }
        }
        return key
    }

    /// A stable id for one incident: 16 hex digits of FNV-1a over the case, the dedup key and
    /// the first-seen time in microseconds (and, without dedup, the evidence's own place).
    public static func alertID(caseID: String, dedupKey: String, firstSeen: Double, extra: String = "") -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ s: String) {
            for b in s.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
            hash = (hash ^ 0x0A) &* 0x100_0000_01b3
        }
        add(caseID)
        add(dedupKey)
        add(String(Int64((firstSeen * 1_000_000).rounded())))
        if !extra.isEmpty { add(extra) }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    private func scope(_ o: Origin) -> String {
        o.namespace.map { "ns:" + $0 } ?? o.host.map { "host:" + $0 } ?? ""
    }

    /// Records a case; returns the notifications it causes (none for a repeat within the window
    /// that is not yet due a reminder).
    public func record(_ event: CaseEvent) -> [Alert] {
        var out = advance(to: event.time)
        let key = Self.dedupKey(event)
        let window = window(for: event.knownCase.id)

        if options.dedup, var entry = open[key] {
            entry.alert.count += 1
            entry.alert.lastSeen = max(entry.alert.lastSeen, event.time)
            if event.time - entry.lastNotified >= options.remind {
                entry.alert.sequence += 1
                entry.notifiedCount = entry.alert.count
                entry.lastNotified = event.time
                out.append(entry.alert)
            }
            open[key] = entry
            nextResolve = min(nextResolve, entry.alert.lastSeen + window)
            lastFired[ScopeKey(caseIndex: event.caseIndex, scope: scope(event.origin))] = event.time
            return out
        }

        // A new incident: note what it supersedes or what supersedes it.
        let s = scope(event.origin)
        let specific = supersededBy[event.caseIndex].filter { i in
            lastFired[ScopeKey(caseIndex: i, scope: s)].map { event.time - $0 <= window } ?? false
        }
        let explains = event.knownCase.supersedes.compactMap { indexOfID[$0] }.filter { g in
            let gw = self.window(for: catalog.cases[g].id)
            return lastFired[ScopeKey(caseIndex: g, scope: s)].map { event.time - $0 <= gw } ?? false
        }
        lastFired[ScopeKey(caseIndex: event.caseIndex, scope: s)] = event.time
        if lastFired.count > options.maxAlerts * 4 {
            let horizon = now - (options.caseWindows.values.max().map { max($0, options.window) } ?? options.window)
            lastFired = lastFired.filter { $0.value >= horizon }
        }

        // Without dedup every hit is its own alert, named by the evidence itself: its stream, its
        // line number, its time and its text (journald gives a whole burst of stream lines one
        // timestamp, and journal records have no line number). Not the source position: that is
        // per batch, and batches are cut differently when a restarted daemon reads the same
        // records again.
        var extra = ""
        var firstSeen = event.time
        if !options.dedup {
            extra = "\(event.origin.streamKey)\n\(event.evidence.lineNumber)\n\(event.evidence.line)"
            // A followed file's line keeps its number when it is read again after a crash, but
            // not its time (the time it was read): the file, the number and the text name it.
            if event.origin.kind == .file && event.evidence.lineNumber > 0 { firstSeen = 0 }
        }
        let alert = Alert(
            knownCase: event.knownCase, origin: event.origin, evidence: event.evidence, earlier: event.earlier,
            captures: event.captures, time: event.time, context: event.context, streamValues: event.streamValues,
            supersededBy: specific.map { catalog.cases[$0].id }, explains: explains.map { catalog.cases[$0].id },
            dedupKey: key,
            alertID: Self.alertID(caseID: event.knownCase.id, dedupKey: key, firstSeen: firstSeen, extra: extra))
        out.append(alert)
        guard options.dedup else { return out }
        opened += 1
        open[key] = Entry(alert: alert, notifiedCount: 1, lastNotified: event.time, opened: opened)
        nextResolve = min(nextResolve, event.time + window)
        if open.count > options.maxAlerts,
            let oldest = open.min(by: { ($0.value.alert.lastSeen, $0.value.opened) < ($1.value.alert.lastSeen, $1.value.opened) })
        {
            open[oldest.key] = nil
            evicted += 1
            out.append(resolvedNotice(oldest.value))
        }
        return out
    }

    private func resolvedNotice(_ entry: Entry) -> Alert {
        var a = entry.alert
        a.state = .resolved
        a.sequence += 1
        return a
    }

    /// Moves the clock to `time` (a record's time, or the wall clock while quiet): resolves the
    /// incidents whose window has passed quiet.
    public func advance(to time: Double) -> [Alert] {
        now = max(now, time)
        guard now > nextResolve else { return [] }
        var done: [Entry] = []
        var next = Double.infinity
        for (key, entry) in open {
            let due = entry.alert.lastSeen + window(for: entry.alert.caseID)
            if now > due {
                done.append(entry)
                open[key] = nil
            } else {
                next = min(next, due)
            }
        }
        nextResolve = next
        return done.sorted { ($0.alert.lastSeen, $0.opened) < ($1.alert.lastSeen, $1.opened) }.map(resolvedNotice)
    }

    /// Resolves now the open incidents `matching` selects (a source that reads again ends its
    /// "source failing" alert at once, without waiting for the window).
    public func resolve(where matching: (Alert) -> Bool) -> [Alert] {
        let done = open.filter { matching($0.value.alert) }
        for key in done.keys { open[key] = nil }
        return done.values.sorted(by: Self.inOrder).map(resolvedNotice)
    }

    /// At the end of a saved input: for every alert that repeated since its last notification,
    /// one update with the final count (same alert id, next event id). Nothing is resolved: the
    /// input ended, not the incident.
    public func finish() -> [Alert] {
        var out: [Entry] = []
        for (key, var entry) in open where entry.alert.count > entry.notifiedCount {
            entry.alert.sequence += 1
            entry.notifiedCount = entry.alert.count
            open[key] = entry
            out.append(entry)
        }
        return out.sorted(by: Self.inOrder).map(\.alert)
    }
}
