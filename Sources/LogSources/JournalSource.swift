import CSystemd
import CaseCatalog
import Foundation
import Synchronization

/// What the journal source reads, and how it waits.
public struct JournalSourceOptions: Sendable {
    /// `_SYSTEMD_UNIT` values, any of which an entry may have. With `identifiers` empty too: the
    /// whole local system journal.
    public var units: [String]
    /// `SYSLOG_IDENTIFIER` values; an entry is read when it matches a unit or an identifier.
    public var identifiers: [String]
    /// Entries with `PRIORITY` at most this (0 emerg ... 6 info, 7 debug) are read; entries
    /// without `PRIORITY` always are. The filter runs in the source, on the entry's field, since
    /// journal matches cannot say "or no such field".
    public var maxPriority: Int
    /// nil: the local system journal (`sd_journal_open` with `SD_JOURNAL_LOCAL_ONLY |
    /// SD_JOURNAL_SYSTEM`); else the journal files of this directory (`sd_journal_open_directory`).
    public var directory: String?
    /// At most this many entries are read into one batch.
    public var batchLimit: Int
    /// A longer `MESSAGE` is cut here, and its segment says so (`truncatedAt`).
    public var maxMessageBytes: Int
    /// While entries keep coming, the source looks again after at most this long (seconds),
    /// without waiting for journald's wake-up, which comes up to 250 ms after a write.
    public var busyWait: Double
    /// After this long (seconds) without an entry, the source waits on the journal's fd with no
    /// timeout: no wake-up at all while the journal is quiet.
    public var quietAfter: Double
    /// A `deliver` call that takes at least this long (seconds) is reported as back-pressure.
    public var backPressureAfter: Double

    public init(
        units: [String] = [], identifiers: [String] = [], maxPriority: Int = 6, directory: String? = nil,
        batchLimit: Int = 1000, maxMessageBytes: Int = ChunkedLineReader.defaultMaxLineLength,
        busyWait: Double = 0.010, quietAfter: Double = 2, backPressureAfter: Double = 1
    ) {
        self.units = units
        self.identifiers = identifiers
        self.maxPriority = min(max(maxPriority, 0), 7)
        self.directory = directory
        self.batchLimit = max(batchLimit, 1)
        self.maxMessageBytes = max(maxMessageBytes, 1)
        self.busyWait = max(busyWait, 0.001)
        self.quietAfter = max(quietAfter, 0)
        self.backPressureAfter = backPressureAfter
    }
}

/// Where the journal source starts reading.
public enum JournalStart: Sendable, Hashable {
    /// Entries written from now on.
    case now
    /// The oldest entry still in the journal.
    case head
    /// Just after the entry of this cursor (a position saved before). When that entry is gone
    /// (vacuumed), at the oldest entry after it, and `cursorVanished` says so.
    case after(cursor: String)
}

/// What the journal source tells its owner, to log (and for some, alert).
public enum JournalSourceEvent: Sendable {
    /// The entry of the start cursor is no longer in the journal: reading starts at the oldest
    /// entry after it. Entries between the cursor and that one were vacuumed before being read.
    case cursorVanished(String)
    /// The start cursor is not a journal cursor: reading starts from now.
    case cursorInvalid(String)
    /// The journal cannot be opened or read (no permission, no journal files, a failing read).
    /// The source retries, backing off up to a minute, until it works (`resumed`) or `stop()`.
    case readError(SystemdError)
    /// Reading works again after a `readError`.
    case resumed
    /// Positioned at `start`: the cursor of the entry reading goes on after (for `now`, the
    /// journal's last entry), or nil when there is none (an empty journal: from its head). An
    /// owner without a saved position saves this one at once, so that a crash before the first
    /// batch does not make the next start begin at "now" again and skip what came between.
    case started(cursor: String?)
    /// Every entry available has been delivered: reported once each time the source catches up
    /// with the journal (after start, then after each burst). A good moment to save a position.
    case caughtUp
    /// Journal files were added or removed (rotation, vacuum, journald restarted); reading goes on.
    case filesChanged
    /// `deliver` took `seconds` for a batch of `entries` records: the pipeline or the sinks hold
    /// the journal back (nothing is dropped; the journal keeps the entries).
    case backPressure(seconds: Double, entries: Int)
}

/// What the source's thread is doing, for a watchdog.
public enum JournalSourceState: UInt8, Sendable {
    case starting
    /// Reading, or waiting with a short timeout while entries keep coming.
    case reading
    /// Blocked on the journal's fd with no timeout: the journal is quiet (known idleness).
    case waiting
    /// In `deliver`: the owner's pipeline has the batch.
    case delivering
    /// Waiting before trying again after a `readError`.
    case retrying
    case stopped
}

/// Counts since the source started.
public struct JournalSourceStatistics: Sendable, Hashable {
    /// Entries read (those the unit and identifier matches let through).
    public var entries = 0
    /// Records handed to `deliver`.
    public var delivered = 0
    public var batches = 0
    /// casewatch's own entries (`SYSLOG_IDENTIFIER=casewatch` or an `ALERT_EVENT_ID`), skipped.
    public var ownEntries = 0
    /// Entries with a `PRIORITY` above `maxPriority`, skipped.
    public var belowPriority = 0
    /// Entries without `MESSAGE`, or whose fields could not be read, skipped.
    public var unreadable = 0
}

/// The journald source: reads the local journal (or a directory of journal files) through
/// sd-journal and hands the entries to its owner in batches.
///
/// Each record is one entry's `MESSAGE`, as bytes (a multi-line message is several lines of one
/// segment; kubelet's klog severity letter stays in it), with the origin `journald` named after
/// the unit, else the syslog identifier, else `journal`, and the entry's host, unit and
/// identifier; its time is the entry's `__REALTIME_TIMESTAMP`. Priority filtering happens here
/// (`maxPriority`); the priority and boot id are not carried further (the boot id is in the
/// cursor). casewatch's own entries (`SYSLOG_IDENTIFIER=casewatch`, or any entry with an
/// `ALERT_EVENT_ID` field) are never delivered, whatever the filters: no feedback loop.
///
/// **Positions are per batch.** Only the last segment of a delivered batch carries a position,
/// the cursor of the last entry read (`.journal(cursor:)`); the other segments say `.none`.
/// Entries the source skipped after the last delivered one may be read again after a restart
/// (and skipped again).
///
/// **Threading.** `run` opens the journal on the calling thread and keeps the handle there for
/// its whole life (sd-journal handles are not thread-safe), so the caller gives it a dedicated
/// thread. `stop()`, `progress`, `state` and `statistics` may be called from any thread.
/// A source runs once: after `stop()`, `run` returns at once.
public final class JournalSource: @unchecked Sendable {
    public let options: JournalSourceOptions
    // Read per entry: plain copies, so the hot loop does not touch the options' arrays.
    private let maxPriority: Int
    private let maxMessageBytes: Int
    private let batchLimit: Int

    private let stopped = Atomic<Bool>(false)
    private let turns = Atomic<UInt64>(0)
    private let currentState = Atomic<UInt8>(JournalSourceState.starting.rawValue)
    private let counts = Mutex(JournalSourceStatistics())
    /// A pipe whose read end is polled with the journal's fd; `stop()` writes to it.
    private let wake: (read: Int32, write: Int32)

    // Per-entry scratch, used on the reading thread only.
    private let message = ByteScratch()
    private let unit = ByteScratch()
    private let identifier = ByteScratch()
    private let host = ByteScratch()
    private let key = ByteScratch()
    private let lastKey = ByteScratch()
    private var lastOrigin: Origin?
    private var origins: [UInt64: (key: [UInt8], origin: Origin)] = [:]

    public init(options: JournalSourceOptions) {
        self.options = options
        maxPriority = options.maxPriority
        maxMessageBytes = options.maxMessageBytes
        batchLimit = options.batchLimit
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
            _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        }
        wake = (fds[0], fds[1])
    }

    deinit {
        if wake.read >= 0 { close(wake.read) }
        if wake.write >= 0 { close(wake.write) }
    }

    /// Makes `run` return: at once when it waits, after the batch in hand when it reads.
    /// Thread-safe, and does not wait.
    public func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    /// Bumped on every turn of the reading loop (a batch read, or a wake-up): a watchdog sees
    /// the thread alive. While `state` is `.waiting` it does not move, by design.
    public var progress: UInt64 { turns.load(ordering: .relaxed) }

    public var state: JournalSourceState {
        JournalSourceState(rawValue: currentState.load(ordering: .relaxed)) ?? .starting
    }

    public var statistics: JournalSourceStatistics { counts.withLock { $0 } }

    private func set(_ state: JournalSourceState) {
        currentState.store(state.rawValue, ordering: .relaxed)
    }

    private var isStopped: Bool { stopped.load(ordering: .sequentiallyConsistent) }

    /// Reads until `stop()`: opens the journal on this thread, starts at `start`, fills `batch`
    /// (emptied first, then reused) with the entries available, up to `batchLimit`, and calls
    /// `deliver` with it; `deliver` may block (that is the back-pressure) and its errors end the
    /// run. Errors of the journal itself do not: they are reported (`readError`) and retried.
    public func run(
        start: JournalStart, batch: RecordBatch = RecordBatch(), deliver: (RecordBatch) throws -> Void,
        report: (JournalSourceEvent) -> Void
    ) throws {
        defer { set(.stopped) }
        var failing = false
        var backoff = 0.25
        func failed(_ error: SystemdError) -> Bool {
            set(.retrying)
            if !failing { report(.readError(error)) }
            failing = true
            backoff = min(backoff * 2, 60)
            return pause(backoff)
        }
        func recovered() {
            if failing { report(.resumed) }
            failing = false
            backoff = 0.25
        }

        // Open and position, retrying until it works.
        var opened: OpaquePointer?
        while opened == nil {
            if isStopped { return }
            do throws(SystemdError) {
                let j = try open()
                do throws(SystemdError) {
                    try position(j, start, report)
                    opened = j
                } catch {
                    sd_journal_close(j)
                    throw error
                }
            } catch {
                if !failed(error) { return }
            }
        }
        let j = opened!
        defer { sd_journal_close(j) }
        let fd = sd_journal_get_fd(j)
        if fd < 0 {
            // Without the fd there is nothing to wait on: a journal that cannot be followed.
            throw SystemdError(errno: -fd, "Failed to watch the journal")
        }
        recovered()

        var lastEntry = DispatchTime.now().uptimeNanoseconds
        var behind = true  // entries were read since the last caughtUp
        while !isStopped {
            turns.add(1, ordering: .relaxed)
            set(.reading)
            batch.removeAll()
            let read: Int
            do throws(SystemdError) {
                read = try fill(batch, j)
            } catch {
                if !failed(error) { return }
                continue
            }
            recovered()
            if !batch.isEmpty {
                set(.delivering)
                let began = DispatchTime.now().uptimeNanoseconds
                try deliver(batch)
                let now = DispatchTime.now().uptimeNanoseconds
                let took = Double(now - began) / 1e9
                counts.withLock {
                    $0.delivered += batch.segments.count
                    $0.batches += 1
                }
                if took >= options.backPressureAfter {
                    report(.backPressure(seconds: took, entries: batch.segments.count))
                }
                lastEntry = now
                behind = true
                continue
            }
            if read > 0 {
                lastEntry = DispatchTime.now().uptimeNanoseconds
                behind = true
                continue
            }
            if behind {
                behind = false
                report(.caughtUp)
                if isStopped { break }
            }
            // Caught up: wait for more. Short timeouts while entries keep coming (journald tells
            // readers up to 250 ms late), none once the journal has been quiet for a while.
            let quiet = Double(DispatchTime.now().uptimeNanoseconds - lastEntry) / 1e9 >= options.quietAfter
            set(quiet ? .waiting : .reading)
            if !wait(j, fd, timeout: quiet ? nil : options.busyWait) { break }
            let r = sd_journal_process(j)
            if r == SD_JOURNAL_INVALIDATE {
                report(.filesChanged)
            } else if r < 0 {
                if !failed(SystemdError(errno: -r, "Failed to process journal changes")) { return }
            }
        }
    }

    /// Waits until the journal's fd is ready, `timeout` seconds pass (nil: no timeout) or
    /// `stop()`; false on stop.
    private func wait(_ j: OpaquePointer, _ fd: Int32, timeout: Double?) -> Bool {
        var milliseconds: Int32 = timeout.map { Int32(($0 * 1000).rounded(.up)) } ?? -1
        // sd-journal may need a call by some time (journal files on a network file system).
        var until: UInt64 = 0
        if sd_journal_get_timeout(j, &until) >= 0, until != UInt64.max {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let nowUsec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
            let left = until > nowUsec ? Int32(min((until - nowUsec + 999) / 1000, UInt64(Int32.max))) : 0
            milliseconds = milliseconds < 0 ? left : min(milliseconds, left)
        }
        let events = sd_journal_get_events(j)
        var fds = [
            pollfd(fd: fd, events: Int16(events > 0 ? events : Int32(POLLIN)), revents: 0),
            pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
        ]
        while poll(&fds, 2, milliseconds) < 0 && errno == EINTR {}
        return !isStopped
    }

    /// Waits `seconds` unless `stop()` comes first; false on stop.
    private func pause(_ seconds: Double) -> Bool {
        var p = pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)
        while poll(&p, 1, Int32(seconds * 1000)) < 0 && errno == EINTR {}
        return !isStopped
    }

    private func open() throws(SystemdError) -> OpaquePointer {
        var handle: OpaquePointer?
        let place: String
        if let directory = options.directory {
            place = directory
            try SystemdError.check(sd_journal_open_directory(&handle, directory, 0), "Failed to open journal directory \(directory)")
        } else {
            place = "the local journal"
            try SystemdError.check(sd_journal_open(&handle, Int32(SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM)), "Failed to open journal")
        }
        guard let j = handle else { throw SystemdError(errno: EINVAL, "Failed to open journal") }
        // sd-journal skips files it may not read: no file at all is an error to say.
        var usage: UInt64 = 0
        if sd_journal_get_usage(j, &usage) >= 0, usage == 0 {
            sd_journal_close(j)
            let dirs = options.directory.map { [$0] } ?? ["/var/log/journal", "/run/log/journal"]
            let denied = dirs.contains { access($0, F_OK) == 0 && access($0, R_OK | X_OK) != 0 }
            throw SystemdError(errno: denied ? EACCES : ENOENT, "No journal files were opened in \(place)")
        }
        // Only compressed fields are cut by the threshold: one byte more than kept shows a cut.
        _ = sd_journal_set_data_threshold(j, options.maxMessageBytes + "MESSAGE=".utf8.count + 1)
        return j
    }

    /// Puts the read pointer just before the first entry to read, then adds the matches. The
    /// position is found without matches (a cursor's own entry may not match them), and adding
    /// matches keeps it.
    private func position(_ j: OpaquePointer, _ start: JournalStart, _ report: (JournalSourceEvent) -> Void) throws(SystemdError) {
        switch start {
        case .head:
            try SystemdError.check(sd_journal_seek_head(j), "Failed to seek to the journal head")
        case .now:
            try seekNow(j)
        case .after(let cursor):
            switch try seek(j, after: cursor) {
            case .found: break
            case .vanished: report(.cursorVanished(cursor))
            case .invalid:
                report(.cursorInvalid(cursor))
                try seekNow(j)
            }
        }
        var raw: UnsafeMutablePointer<CChar>? = nil
        if sd_journal_get_cursor(j, &raw) >= 0, let raw {
            report(.started(cursor: String(cString: raw)))
            free(raw)
        } else {
            report(.started(cursor: nil))
        }
        try addMatches(j)
    }

    /// On the last entry, so that `next` returns what is written from now on. An empty journal
    /// stays at its head (sd-journal's tail location never moves forward).
    private func seekNow(_ j: OpaquePointer) throws(SystemdError) {
        try SystemdError.check(sd_journal_seek_tail(j), "Failed to seek to the journal tail")
        if try SystemdError.check(sd_journal_previous(j), "Failed to seek to the journal tail") == 0 {
            try SystemdError.check(sd_journal_seek_head(j), "Failed to seek to the journal head")
        }
    }

    private func addMatches(_ j: OpaquePointer) throws(SystemdError) {
        func add(_ field: String, _ value: String) throws(SystemdError) {
            let match = Array("\(field)=\(value)".utf8)
            try SystemdError.check(match.withUnsafeBytes { sd_journal_add_match(j, $0.baseAddress, $0.count) }, "Failed to add journal match \(field)=\(value)")
        }
        for u in options.units { try add("_SYSTEMD_UNIT", u) }
        if !options.units.isEmpty && !options.identifiers.isEmpty {
            try SystemdError.check(sd_journal_add_disjunction(j), "Failed to add journal match")
        }
        for i in options.identifiers { try add("SYSLOG_IDENTIFIER", i) }
    }

    /// Reads the entries available now, up to `batchLimit`, into `batch`; the entries read.
    private func fill(_ batch: RecordBatch, _ j: OpaquePointer) throws(SystemdError) -> Int {
        var read = 0
        var skipped = JournalSourceStatistics()
        while read < batchLimit {
            let r = sd_journal_next(j)
            if r == 0 { break }
            if r < 0 {
                if read > 0 { break }  // deliver what was read; the error comes back next turn
                throw SystemdError(errno: -r, "Failed to read the journal")
            }
            read += 1
            readEntry(j, into: batch, &skipped)
        }
        if !batch.isEmpty {
            // The read pointer is on the last entry read (a skipped one, too: resuming after it
            // loses nothing).
            var raw: UnsafeMutablePointer<CChar>? = nil
            if sd_journal_get_cursor(j, &raw) >= 0, let raw {
                batch.setEnd(.journal(cursor: String(cString: raw)), ofSegment: batch.segments.count - 1)
                free(raw)
            }
        }
        counts.withLock {
            $0.entries += read
            $0.ownEntries += skipped.ownEntries
            $0.belowPriority += skipped.belowPriority
            $0.unreadable += skipped.unreadable
        }
        return read
    }

    /// One entry: its fields in one pass over its data (sd-journal returns them in file order,
    /// MESSAGE usually last), then one segment, unless it is skipped.
    private func readEntry(_ j: OpaquePointer, into batch: RecordBatch, _ skipped: inout JournalSourceStatistics) {
        message.count = -1
        unit.count = -1
        identifier.count = -1
        host.count = -1
        var own = false
        var priority = -1
        sd_journal_restart_data(j)
        while true {
            var data: UnsafeRawPointer?
            var length = 0
            let r = sd_journal_enumerate_available_data(j, &data, &length)
            if r == 0 { break }
            guard r > 0, let data else {
                skipped.unreadable += 1
                return
            }
            let p = data.assumingMemoryBound(to: UInt8.self)
            switch p[0] {
            case UInt8(ascii: "M"):
                if message.count < 0, Self.has(p, length, "MESSAGE=") {
                    // One byte past the cap is enough to know it was cut.
                    message.set(p + 8, min(length - 8, maxMessageBytes + 1))
                }
            case UInt8(ascii: "S"):
                if identifier.count < 0, Self.has(p, length, "SYSLOG_IDENTIFIER=") {
                    identifier.set(p + 18, length - 18)
                    if identifier.equals("casewatch") { own = true }
                }
            case UInt8(ascii: "P"):
                if priority < 0, length == 10, Self.has(p, length, "PRIORITY="), p[9] >= 0x30, p[9] <= 0x37 {
                    priority = Int(p[9] - 0x30)
                }
            case UInt8(ascii: "_"):
                if unit.count < 0, Self.has(p, length, "_SYSTEMD_UNIT=") {
                    unit.set(p + 14, length - 14)
                } else if host.count < 0, Self.has(p, length, "_HOSTNAME=") {
                    host.set(p + 10, length - 10)
                }
            case UInt8(ascii: "A"):
                if Self.has(p, length, "ALERT_EVENT_ID=") { own = true }
            default:
                break
            }
        }
        if own {
            skipped.ownEntries += 1
            return
        }
        if priority > maxPriority {
            skipped.belowPriority += 1
            return
        }
        guard message.count >= 0 else {
            skipped.unreadable += 1
            return
        }
        var usec: UInt64 = 0
        _ = sd_journal_get_realtime_usec(j, &usec)
        var monotonic: UInt64 = 0
        var boot = sd_id128_t()
        let bootID: BootID? = sd_journal_get_monotonic_usec(j, &monotonic, &boot) >= 0
            ? withUnsafeBytes(of: boot.bytes) { b in
                BootID(high: b.loadUnaligned(fromByteOffset: 0, as: UInt64.self).bigEndian,
                       low: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self).bigEndian)
            } : nil
        var kept = message.count
        var truncatedAt: Int? = nil
        if kept > maxMessageBytes {
            kept = maxMessageBytes
            truncatedAt = kept
        }
        batch.append(
            UnsafeRawBufferPointer(start: message.base, count: kept), origin: origin(), firstLine: 0,
            time: Double(usec) / 1_000_000, truncatedAt: truncatedAt, end: .none,
            priority: Int8(priority), bootID: bootID)
    }

    @inline(__always)
    private static func has(_ p: UnsafePointer<UInt8>, _ length: Int, _ prefix: StaticString) -> Bool {
        length >= prefix.utf8CodeUnitCount && memcmp(p, prefix.utf8Start, prefix.utf8CodeUnitCount) == 0
    }

    /// The origin of the entry just read, from a cache keyed by the raw unit, identifier and
    /// host: no string is made for an entry of a stream seen before.
    private func origin() -> Origin {
        key.count = 0
        key.appendField(unit)
        key.appendField(identifier)
        key.appendField(host)
        if let lastOrigin, key.count == lastKey.count, memcmp(key.base, lastKey.base, key.count) == 0 {
            return lastOrigin
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in 0..<key.count { hash = (hash ^ UInt64(key.base[i])) &* 0x100_0000_01b3 }
        let found: Origin
        if let cached = origins[hash], cached.key.count == key.count,
            cached.key.withUnsafeBytes({ memcmp($0.baseAddress!, key.base, key.count) }) == 0
        {
            found = cached.origin
        } else {
            let u = unit.string, i = identifier.string
            found = Origin(kind: .journald, name: u ?? i ?? "journal", host: host.string, unit: u, identifier: i)
            if origins.count >= 4096 { origins.removeAll(keepingCapacity: true) }  // bounded
            origins[hash] = (Array(UnsafeBufferPointer(start: key.base, count: key.count)), found)
        }
        lastKey.count = 0
        lastKey.append(key.base, key.count)
        lastOrigin = found
        return found
    }
}

/// A growable byte buffer reused across entries; `count < 0` means "no value".
final class ByteScratch {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    var count = -1

    init(capacity: Int = 256) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    private func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        var size = capacity
        while size < needed { size *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        if count > 0 { bigger.update(from: base, count: count) }
        base.deallocate()
        base = bigger
        capacity = size
    }

    func set(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        count = 0
        append(bytes, length)
    }

    func append(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        let at = max(count, 0)
        reserve(at + length)
        (base + at).update(from: bytes, count: length)
        count = at + length
    }

    /// Appends another scratch as a key part: present or not, its length, its bytes.
    func appendField(_ field: ByteScratch) {
        var header: (UInt8, UInt32) = (field.count < 0 ? 0 : 1, UInt32(max(field.count, 0)))
        withUnsafeBytes(of: &header.0) { append($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 1) }
        withUnsafeBytes(of: &header.1) { append($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 4) }
        if field.count > 0 { append(field.base, field.count) }
    }

    func equals(_ text: StaticString) -> Bool {
        count == text.utf8CodeUnitCount && memcmp(base, text.utf8Start, count) == 0
    }

    var string: String? {
        count < 0 ? nil : String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
    }
}
