import CaseCatalog
import Foundation

extension AlertBook {
    /// The book's state as saved beside the source positions: the open incidents with their
    /// counts and the supersedes clock, so a restarted daemon continues and resolves them.
    public struct Snapshot: Codable, Sendable {
        public static let currentVersion = 1

        struct Incident: Codable {
            var caseID: String
            var origin: Origin
            var evidence: Evidence
            var earlier: [Evidence]
            var captures: [Capture]
            var time: Double
            var context: [String]
            var streamValues: [String: String]
            var supersededBy: [String]
            var explains: [String]
            var count: Int
            var firstSeen: Double
            var lastSeen: Double
            var dedupKey: String
            var alertID: String
            var sequence: Int
            var notifiedCount: Int
            var lastNotified: Double
            var opened: Int
        }
        struct Fired: Codable {
            var caseID: String
            var scope: String
            var time: Double
        }

        public var version = Snapshot.currentVersion
        var now: Double?
        var incidents: [Incident]
        var fired: [Fired]

        /// Open incidents in the snapshot.
        public var count: Int { incidents.count }
    }

    public func snapshot() -> Snapshot {
        let incidents = open.values.map { e in
            let a = e.alert
            return Snapshot.Incident(
                caseID: a.caseID, origin: a.origin, evidence: a.evidence, earlier: a.earlier, captures: a.captures,
                time: a.time, context: a.context, streamValues: a.streamValues, supersededBy: a.supersededBy,
                explains: a.explains, count: a.count, firstSeen: a.firstSeen, lastSeen: a.lastSeen,
                dedupKey: a.dedupKey, alertID: a.alertID, sequence: a.sequence, notifiedCount: e.notifiedCount,
                lastNotified: e.lastNotified, opened: e.opened)
        }.sorted { ($0.firstSeen, $0.opened) < ($1.firstSeen, $1.opened) }
        let fired = lastFired.map { Snapshot.Fired(caseID: catalog.cases[$0.key.caseIndex].id, scope: $0.key.scope, time: $0.value) }
            .sorted { ($0.caseID, $0.scope) < ($1.caseID, $1.scope) }
        return Snapshot(now: now.isFinite ? now : nil, incidents: incidents, fired: fired)
    }

    /// Takes over a saved state. Incidents of cases the catalog no longer has are dropped and
    /// their number returned (a reload that removed a case ends its alerts).
    @discardableResult
    public func restore(_ snapshot: Snapshot) -> Int {
        var dropped = 0
        for i in snapshot.incidents {
            guard let index = indexOfID[i.caseID] else {
                dropped += 1
                continue
            }
            let alert = Alert(
                knownCase: catalog.cases[index], origin: i.origin, evidence: i.evidence, earlier: i.earlier,
                captures: i.captures, time: i.time, context: i.context, streamValues: i.streamValues,
                supersededBy: i.supersededBy, explains: i.explains, state: .firing, count: i.count,
                firstSeen: i.firstSeen, lastSeen: i.lastSeen, dedupKey: i.dedupKey, alertID: i.alertID, sequence: i.sequence)
            open[i.dedupKey] = Entry(alert: alert, notifiedCount: i.notifiedCount, lastNotified: i.lastNotified, opened: i.opened)
            opened = max(opened, i.opened)
            nextResolve = min(nextResolve, i.lastSeen + window(for: i.caseID))
        }
        for f in snapshot.fired {
            if let index = indexOfID[f.caseID] { lastFired[ScopeKey(caseIndex: index, scope: f.scope)] = f.time }
        }
        if let t = snapshot.now { now = max(now, t) }
        return dropped
    }

    /// Writes the snapshot to `path` atomically (a temporary file, fsync, rename).
    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(snapshot()), to: path)
    }

    /// Reads a snapshot written by `save(to:)`; nil when there is none.
    public static func loadSnapshot(from path: String) throws -> Snapshot? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let snapshot = try JSONDecoder().decode(Snapshot.self, from: data)
        guard snapshot.version == Snapshot.currentVersion else { return nil }
        return snapshot
    }
}

/// Writes files so a crash leaves the old content or the new, never a mix.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var ok = data.withUnsafeBytes { p -> Bool in
            var offset = 0
            while offset < p.count {
                let n = Foundation.write(fd, p.baseAddress! + offset, p.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        let saved = errno
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let e = ok ? errno : saved
            unlink(temporary)
            throw POSIXError(POSIXErrorCode(rawValue: e) ?? .EIO)
        }
        // The rename itself is durable once the directory is synced.
        let dir = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }
}
