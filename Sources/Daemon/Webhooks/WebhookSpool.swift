import Foundation

/// One webhook sink's durable queue, in `state_dir/spool/<sink>/`:
///
/// - `queue`: one line per notification, appended and `fdatasync`ed before `append` returns
///   (so the hub saves a source position only after the alerts before it are on disk);
/// - `done`: one line per notification finished (`sent`, `dead` for a dead letter, `evicted`),
///   also synced, so a restart neither sends again what was sent nor forgets what was not;
/// - `dead-letter`: the notifications a receiver refused for good, with its answer.
///
/// Each line of `queue` is a small JSON header, a tab, and the alert's JSON (which never holds a
/// raw tab). A line cut by a crash (no final newline) is dropped at the next start: its append
/// never returned, so its records are read again and the alert comes again.
///
/// Bounded: past `maxBytes` of pending alerts, the oldest of the lowest severity go first (each
/// counted and returned to the caller to log). Repeats of an `event_id` that is pending or was
/// finished lately (the last `rememberDone`) are dropped: the records read again after a crash
/// give the same event ids.
///
/// The one lock is an `NSCondition`: the sender waits on it for work.
final class WebhookSpool: @unchecked Sendable {
    struct Entry: Sendable {
        var seq: UInt64
        var eventID: String
        var alertID: String
        /// Severity rank (info 0 ... critical 3): eviction order.
        var rank: Int
        /// When it was spooled (seconds since the epoch).
        var at: Double
        /// The alert's JSON (docs/ALERT-SCHEMA.md), redacted.
        var record: Data
        var bytes: Int { record.count + eventID.utf8.count + alertID.utf8.count + 64 }
    }

    private struct Header: Codable {
        var seq: UInt64
        var event_id: String
        var alert_id: String
        var rank: Int
        var at: Double
    }

    enum Outcome: String { case sent, dead, evicted }

    let directory: String
    let maxBytes: Int
    let rememberDone: Int
    let condition = NSCondition()

    private var pending: [Entry] = []
    private var pendingIDs: Set<String> = []
    private var pendingBytes = 0
    private var done: Set<String> = []
    private var doneOrder: [String] = []
    private var doneLines = 0
    private var nextSeq: UInt64 = 1
    private var queueFD: Int32 = -1
    private var doneFD: Int32 = -1
    private var queueFileBytes = 0

    var queuePath: String { (directory as NSString).appendingPathComponent("queue") }
    var donePath: String { (directory as NSString).appendingPathComponent("done") }
    var deadLetterPath: String { (directory as NSString).appendingPathComponent("dead-letter") }

    init(directory: String, maxBytes: Int, rememberDone: Int = 20_000) throws {
        self.directory = directory
        self.maxBytes = maxBytes
        self.rememberDone = rememberDone
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try load()
    }

    deinit {
        if queueFD >= 0 { close(queueFD) }
        if doneFD >= 0 { close(doneFD) }
    }

    // MARK: - State, under the condition's lock

    var depth: Int { condition.withLock { pending.count } }
    var bytes: Int { condition.withLock { pendingBytes } }

    /// The entries the sender has in hand (a request in flight): evicted last.
    private var sending: Set<String> = []

    /// The oldest `limit` pending entries, marked as being sent until `finish` or `release`.
    func take(_ limit: Int) -> [Entry] {
        condition.withLock {
            let out = Array(pending.prefix(limit))
            sending = Set(out.map(\.eventID))
            return out
        }
    }

    /// The entries taken are no longer in hand (the try failed; they stay pending).
    func release() {
        condition.withLock { sending.removeAll() }
    }

    /// Whether nothing is pending; only with `condition` held.
    var isEmptyLocked: Bool { pending.isEmpty }

    /// The event ids pending; only with `condition` held.
    var pendingIDsLocked: Set<String> { pendingIDs }

    /// The oldest `limit` pending entries, in order.
    func first(_ limit: Int) -> [Entry] { condition.withLock { Array(pending.prefix(limit)) } }

    /// Appends a notification (synced) unless its event id is pending or was finished lately.
    /// Returns whether it was added and the entries evicted to make room.
    @discardableResult
    func append(eventID: String, alertID: String, rank: Int, at: Double, record: Data) throws -> (added: Bool, evicted: [Entry]) {
        condition.lock()
        defer { condition.unlock() }
        if pendingIDs.contains(eventID) || done.contains(eventID) { return (false, []) }
        let entry = Entry(seq: nextSeq, eventID: eventID, alertID: alertID, rank: rank, at: at, record: record)
        var evicted: [Entry] = []
        while pendingBytes + entry.bytes > maxBytes, !pending.isEmpty {
            // The oldest of the lowest severity, not one being sent (unless all are); the new
            // entry itself competes too.
            let candidates = pending.indices.filter { !sending.contains(pending[$0].eventID) }
            let pool = candidates.isEmpty ? Array(pending.indices) : candidates
            let lowest = pool.map { pending[$0].rank }.min()!
            if entry.rank < lowest { return (false, [entry]) }
            let i = pool.first { pending[$0].rank == lowest }!
            evicted.append(pending[i])
            pendingBytes -= pending[i].bytes
            pendingIDs.remove(pending[i].eventID)
            pending.remove(at: i)
        }
        if !evicted.isEmpty { try writeDone(evicted.map(\.eventID), .evicted) }
        let header = try JSONEncoder().encode(Header(seq: entry.seq, event_id: eventID, alert_id: alertID, rank: rank, at: at))
        var line = header
        line.append(0x09)
        line.append(record)
        line.append(0x0A)
        try writeAll(queueFD, line)
        queueFileBytes += line.count
        nextSeq += 1
        pending.append(entry)
        pendingIDs.insert(eventID)
        pendingBytes += entry.bytes
        condition.broadcast()
        return (true, evicted)
    }

    /// Marks entries finished (synced) and drops them from the queue.
    func finish(_ ids: [String], _ outcome: Outcome) throws {
        condition.lock()
        defer { condition.unlock() }
        let set = Set(ids)
        sending.subtract(set)
        try writeDone(ids, outcome)
        for e in pending where set.contains(e.eventID) {
            pendingBytes -= e.bytes
            pendingIDs.remove(e.eventID)
        }
        pending.removeAll { set.contains($0.eventID) }
        if doneLines > 2 * rememberDone || queueFileBytes > 2 * pendingBytes + (4 << 20) { try compact() }
    }

    /// Appends to the dead-letter file (synced): one JSON object per line.
    func deadLetter(_ line: Data) throws {
        let fd = open(deadLetterPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var data = line
        data.append(0x0A)
        try writeAll(fd, data)
    }

    // MARK: - Files

    private func writeDone(_ ids: [String], _ outcome: Outcome) throws {
        var data = Data()
        for id in ids {
            data.append(Data("\(outcome.rawValue) \(id)\n".utf8))
            remember(id)
        }
        try writeAll(doneFD, data)
        doneLines += ids.count
    }

    private func remember(_ id: String) {
        guard done.insert(id).inserted else { return }
        doneOrder.append(id)
        if doneOrder.count > 2 * rememberDone {
            let drop = doneOrder.count - rememberDone
            for old in doneOrder.prefix(drop) { done.remove(old) }
            doneOrder.removeFirst(drop)
        }
    }

    private func writeAll(_ fd: Int32, _ data: Data) throws {
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                offset += n
            }
        }
        guard fdatasync(fd) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// Complete lines of a file; a cut last line is cut off the file too, so appends stay whole.
    private func lines(_ path: String) throws -> [Data] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        guard let lastNewline = data.lastIndex(of: 0x0A) else {
            if !data.isEmpty { truncate(path, 0) }
            return []
        }
        if lastNewline != data.count - 1 { truncate(path, off_t(lastNewline + 1)) }
        return data[..<lastNewline].split(separator: 0x0A, omittingEmptySubsequences: true).map { Data($0) }
    }

    private func load() throws {
        for line in try lines(donePath) {
            guard let space = line.firstIndex(of: 0x20) else { continue }
            remember(String(decoding: line[line.index(after: space)...], as: UTF8.self))
            doneLines += 1
        }
        let decoder = JSONDecoder()
        for line in try lines(queuePath) {
            queueFileBytes += line.count + 1
            guard let tab = line.firstIndex(of: 0x09), let h = try? decoder.decode(Header.self, from: line[..<tab]) else { continue }
            nextSeq = max(nextSeq, h.seq + 1)
            guard !done.contains(h.event_id), !pendingIDs.contains(h.event_id) else { continue }
            let e = Entry(seq: h.seq, eventID: h.event_id, alertID: h.alert_id, rank: h.rank, at: h.at, record: Data(line[line.index(after: tab)...]))
            pending.append(e)
            pendingIDs.insert(e.eventID)
            pendingBytes += e.bytes
        }
        pending.sort { $0.seq < $1.seq }
        queueFD = open(queuePath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        doneFD = open(donePath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard queueFD >= 0, doneFD >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        syncDirectory()
    }

    /// Rewrites both files with only what is pending and the ids lately finished.
    private func compact() throws {
        var queue = Data()
        let encoder = JSONEncoder()
        for e in pending {
            queue.append(try encoder.encode(Header(seq: e.seq, event_id: e.eventID, alert_id: e.alertID, rank: e.rank, at: e.at)))
            queue.append(0x09)
            queue.append(e.record)
            queue.append(0x0A)
        }
        let keep = doneOrder.suffix(rememberDone)
        let doneData = Data(keep.map { "sent \($0)\n" }.joined().utf8)
        // The done file first: a crash between the two leaves a queue whose finished entries are
        // still marked finished.
        try replace(donePath, with: doneData, fd: &doneFD)
        doneLines = keep.count
        try replace(queuePath, with: queue, fd: &queueFD)
        queueFileBytes = queue.count
    }

    private func replace(_ path: String, with data: Data, fd: inout Int32) throws {
        let temporary = path + ".new"
        let t = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard t >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        do { try writeAll(t, data) } catch {
            close(t)
            throw error
        }
        close(t)
        guard rename(temporary, path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        syncDirectory()
        close(fd)
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    private func syncDirectory() {
        let d = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 {
            fsync(d)
            close(d)
        }
    }
}
