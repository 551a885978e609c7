import CZlib
import CaseCatalog
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the file source follows, and how.
public struct FileTailOptions: Sendable {
    public struct Entry: Sendable, Hashable {
        public enum Start: String, Sendable { case end, beginning }
        /// A file or a glob (`*`, `?`, `[...]`, also in directory names).
        public var path: String
        /// Globs of files not to follow: matched against the whole path when they hold a `/`,
        /// else against the file name.
        public var exclude: [String]
        /// Where a file present at the first start is read from; a file that appears later is
        /// always read from its beginning.
        public var start: Start

        public init(path: String, exclude: [String] = [], start: Start = .end) {
            self.path = path
            self.exclude = exclude
            self.start = start
        }
    }

    public var entries: [Entry]
    /// At most this many files are open at once; an idle file is closed (its position kept)
    /// to open another.
    public var maxOpen: Int
    /// Seconds a last line without its newline waits for it before it is scanned as it is.
    public var partialLineWait: Double
    /// Seconds a rotated file is still read after its last write, when no new file shows the
    /// writer has moved on.
    public var rotateWait: Double
    /// The first pause before a file that cannot be read is tried again, seconds (it doubles,
    /// up to a minute).
    public var retryDelay: Double
    public var maxLineLength: Int
    public var chunkSize: Int
    /// The host records are said to come from.
    public var host: String?

    public init(
        entries: [Entry], maxOpen: Int = 256, partialLineWait: Double = 5, rotateWait: Double = 5, retryDelay: Double = 1,
        maxLineLength: Int = ChunkedLineReader.defaultMaxLineLength, chunkSize: Int = 64 * 1024, host: String? = nil
    ) {
        self.entries = entries
        self.maxOpen = max(maxOpen, 1)
        self.partialLineWait = max(partialLineWait, 0)
        self.rotateWait = max(rotateWait, 0)
        self.retryDelay = max(retryDelay, 0.01)
        self.maxLineLength = max(maxLineLength, 1)
        self.chunkSize = max(chunkSize, 1)
        self.host = host
    }
}

/// What the file source tells its owner, to log (and for some, alert).
public enum FileTailEvent: Sendable {
    /// Watching and positioned: every file present was opened or found unreadable.
    case started
    /// A file is followed from `offset` (a new file, or one found again).
    case following(path: String, offset: UInt64)
    /// A file cannot be opened or read; retried with backoff. Reported once per incident.
    case readError(path: String, error: LogSourceError)
    /// The file can be read again after a `readError`.
    case resumed(path: String)
    /// The file at the path was replaced (rotation by rename, or deleted and created again).
    case rotated(path: String)
    /// The file became shorter than what was read (copytruncate): read again from its start.
    case truncated(path: String)
    /// A read raced a copytruncate (the file's first bytes changed while it read): its `bytes`
    /// were dropped, to be read from the copy.
    case readDropped(path: String, bytes: Int)
    /// The rest of an earlier file of the path is read from `sibling` (a rotated name, a copy,
    /// a compressed copy), from `offset`.
    case restFound(path: String, sibling: String, offset: UInt64)
    /// The earlier file of the path is gone and no rotated copy of it was found: what was
    /// written to it after `offset` could not be read.
    case restMissing(path: String, offset: UInt64)
    /// The file is gone and read to its end: its position is forgotten.
    case released(path: String)
    /// More files than `maxOpen` want to be open: the file waits for a slot (reported once).
    case tooManyOpen(path: String)
    /// A watch could not be added (the inotify limit, permissions).
    case watchFailed(directory: String, errno: Int32)
}

/// Follows log files as `tail -F` does: globs, files and directories that appear later (told by
/// inotify on the directories, never by polling), rotation by rename and by copytruncate,
/// compressed rotations, bounded open files, positions to resume from.
///
/// **Identity.** A file is its device and inode plus a fingerprint of its first bytes (an inode
/// is reused once its file is deleted). Each identity is read by one follower at a time; a file
/// reached under a second name (renamed within a glob) is not read twice.
///
/// **Rotation by rename.** When the path names a new file, the old one (still open) is read to
/// its end first: until the new file has bytes (its writer has moved on), or it was deleted and
/// is at its end, or `rotateWait` passes without a write. Then the new one from 0.
///
/// **copytruncate.** A file shorter than what was read (or whose first bytes changed) was
/// truncated: what was written between the last read and the copy is read from the copy (a
/// sibling with the same fingerprint), then the file again from 0.
///
/// **Positions.** Each segment's `end` is `.file(device, inode, offset, fingerprint, lines)`
/// under the followed path; `start(saved:)` resumes from them: the same file if it is still
/// at the path, else the rest of the old file from a rotated sibling (same identity, or the
/// same fingerprint: a copy or a `.gz`), then the new file from 0.
///
/// **Threading.** `run` owns everything on the calling thread; `stop()` may be called from any.
public final class FileTail: @unchecked Sendable {
    public let options: FileTailOptions
    private let stopped = Atomic<Bool>(false)
    private let turns = Atomic<UInt64>(0)
    private let wake: (read: Int32, write: Int32)

    // Owned by the reading thread.
    private var inotify: Int32 = -1
    private var watches: [Int32: String] = [:]
    private var watched: [String: Int32] = [:]
    private var followers: [String: Follower] = [:]
    /// Identities read to their end and let go, with where they ended: a file found again
    /// under another name resumes there instead of being read again. Bounded.
    private var finished: [FileKey: Saved] = [:]
    private var finishedOrder: [FileKey] = []
    private let buffer: UnsafeMutableRawBufferPointer
    private let batch = RecordBatch(capacity: 256 * 1024)

    /// Callbacks of one `run`.
    public struct Handlers {
        /// Hands a batch of one followed path's records over; may block (back-pressure); its
        /// errors end the run.
        public var deliver: (RecordBatch, String) throws -> Void
        /// A followed path's position moved without a batch (a new file, a truncation).
        public var record: (String, RecordPosition) -> Void
        /// A followed path is gone: its position can be dropped.
        public var forget: (String) -> Void
        public var report: (FileTailEvent) -> Void

        public init(
            deliver: @escaping (RecordBatch, String) throws -> Void, record: @escaping (String, RecordPosition) -> Void,
            forget: @escaping (String) -> Void, report: @escaping (FileTailEvent) -> Void
        ) {
            self.deliver = deliver
            self.record = record
            self.forget = forget
            self.report = report
        }
    }

    public init(options: FileTailOptions) {
        self.options = options
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            }
        }
        wake = (fds[0], fds[1])
        buffer = .allocate(byteCount: options.maxLineLength + options.chunkSize + 1, alignment: 64)
    }

    deinit {
        if wake.read >= 0 { close(wake.read) }
        if wake.write >= 0 { close(wake.write) }
        if inotify >= 0 { close(inotify) }
        buffer.deallocate()
    }

    /// Makes `run` return (after the batch in hand). Thread-safe, does not wait.
    public func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    private var isStopped: Bool { stopped.load(ordering: .sequentiallyConsistent) }

    /// Bumped on every turn of the loop, for a watchdog.
    public var progress: UInt64 { turns.load(ordering: .relaxed) }

    /// Open files (current and rotated ones still being read): never more than `maxOpen`.
    public private(set) var openFiles = 0

    /// Follows until `stop()`. `saved` gives a path's saved position (nil: never followed).
    /// `startedBefore` says whether an entry was followed by an earlier run (persisted by the
    /// owner): its files without a saved position appeared since, and are read from their
    /// start whatever `start` says. nil: only files with a saved position count as followed.
    public func run(
        saved: @escaping (String) -> RecordPosition?, startedBefore: ((FileTailOptions.Entry) -> Bool)? = nil, handlers: Handlers
    ) throws {
        inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard inotify >= 0 else {
            let e = errno
            throw LogSourceError(.open, source: "inotify", "Failed to start inotify: \(String(cString: strerror(e)))", errno: e)
        }
        ctx = Context(handlers: handlers, saved: saved, startedBefore: startedBefore ?? { _ in false })
        defer { ctx = nil }
        updateWatches()
        discover(firstStart: true)
        handlers.report(.started)
        var events = [UInt8](repeating: 0, count: 64 * 1024)
        while !isStopped {
            turns.add(1, ordering: .relaxed)
            try serviceAll()
            if isStopped { break }
            let timeout = nextTimeout()
            var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            let ms: Int32 = timeout.map { Int32(min(max(($0 * 1000).rounded(.up), 0), 3_600_000)) } ?? -1
            while poll(&fds, 2, ms) < 0 && errno == EINTR {}
            if isStopped { break }
            var rescan = false, rewatch = false
            while true {
                let n = events.withUnsafeMutableBytes { Foundation.read(inotify, $0.baseAddress!, $0.count) }
                if n <= 0 { break }
                events.withUnsafeBytes { raw in
                    var i = 0
                    while i + MemoryLayout<inotify_event>.size <= n {
                        let mask = raw.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self)
                        let length = Int(raw.loadUnaligned(fromByteOffset: i + 12, as: UInt32.self))
                        if mask & UInt32(IN_Q_OVERFLOW) != 0 { rescan = true; rewatch = true }
                        if mask & UInt32(IN_ISDIR) != 0 || mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
                            rewatch = true
                            rescan = true
                        }
                        if mask & UInt32(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB) != 0 { rescan = true }
                        i += MemoryLayout<inotify_event>.size + length
                    }
                }
            }
            if rewatch { updateWatches() }
            if rescan { discover(firstStart: false) }
        }
        for (_, f) in followers { f.close(self) }
        followers = [:]
    }

    // MARK: - State

    struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// A saved or remembered position of one identity.
    struct Saved {
        var key: FileKey
        var fingerprint: FileFingerprint?
        var offset: UInt64
        var lines: Int

        init?(_ p: RecordPosition?) {
            guard case .file(let d, let i, let o, let f, let l)? = p else { return nil }
            key = FileKey(device: d, inode: i)
            fingerprint = f
            offset = o
            lines = l ?? 0
        }

        init(_ file: TailedFile) {
            key = FileKey(device: file.device, inode: file.inode)
            fingerprint = file.fingerprint
            offset = file.offset
            lines = file.lines
        }
    }

    struct Context {
        var handlers: Handlers
        var saved: (String) -> RecordPosition?
        var startedBefore: (FileTailOptions.Entry) -> Bool
    }

    private var ctx: Context?

    /// One followed path: the file at it now, and earlier files of it still to finish.
    final class Follower {
        let path: String
        let origin: Origin
        let start: FileTailOptions.Entry.Start
        /// The file at the path (nil: none yet, closed to free a slot, or failing).
        var current: TailedFile?
        /// Earlier files of the path, oldest first: read to their end before `current`.
        var old: [TailedFile] = []
        /// Where to resume when the path is opened (a saved position, or a file closed to free
        /// a slot); nil: from `start`.
        var resume: Saved?
        /// The file is new since the source started: read from 0 whatever `start` says.
        var isNew: Bool
        var failing = false
        var retryAt = 0.0
        var retryDelay = 0.0
        var waitingForSlot = false
        /// Closed to free a slot for another file; `resume` says where it was.
        var parked = false
        var lastActive: Double
        /// A gzip file read to its end: nothing more will come.
        var complete = false

        init(path: String, start: FileTailOptions.Entry.Start, isNew: Bool, host: String?, now: Double) {
            self.path = path
            self.start = start
            self.isNew = isNew
            origin = Origin(kind: .file, name: path, host: host, file: path)
            lastActive = now
        }

        var openCount: Int { (current == nil ? 0 : 1) + old.count }

        func close(_ tail: FileTail) {
            tail.openFiles -= openCount
            current = nil
            old = []
        }
    }

    // MARK: - Time

    private static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Seconds until something is due without an event: a partial line's wait, a rotated file's
    /// wait, a retry, a slot. nil: nothing (wait for inotify only).
    private func nextTimeout() -> Double? {
        let now = Self.now()
        var next = Double.infinity
        for (_, f) in followers {
            if f.failing { next = min(next, f.retryAt) }
            if f.waitingForSlot { next = min(next, now + 1) }
            for file in f.old + (f.current.map { [$0] } ?? []) {
                if let since = file.partialSince { next = min(next, since + options.partialLineWait) }
            }
            if let o = f.old.first { next = min(next, o.lastData + options.rotateWait) }
            if f.old.contains(where: { !$0.atEnd }) || (f.current.map { !$0.atEnd } ?? false) { next = now }
        }
        return next == .infinity ? nil : max(next - now, 0)
    }

    // MARK: - Watches and discovery

    private static func hasGlob(_ s: Substring) -> Bool { s.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    private static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The directories to watch for the entries: the ones files are matched in, the ones a
    /// globbed directory name is matched in, and for a directory that does not exist yet, its
    /// nearest existing ancestor.
    private func directoriesToWatch() -> Set<String> {
        var out: Set<String> = []
        for entry in options.entries {
            let parts = entry.path.split(separator: "/")
            var level: [String] = ["/"]
            for part in parts.dropLast() {
                var next: [String] = []
                for dir in level {
                    let base = dir == "/" ? "" : dir
                    if Self.hasGlob(part) {
                        out.insert(dir)
                        let children = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
                        for c in children where fnmatch(String(part), c, FNM_PERIOD) == 0 {
                            let p = base + "/" + c
                            if Self.isDirectory(p) { next.append(p) }
                        }
                    } else {
                        let p = base + "/" + part
                        if Self.isDirectory(p) { next.append(p) } else { out.insert(dir) }
                    }
                }
                level = next
            }
            out.formUnion(level)
        }
        return out
    }

    private func updateWatches() {
        let want = directoriesToWatch()
        let mask = UInt32(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
        for dir in want where watched[dir] == nil {
            let wd = inotify_add_watch(inotify, dir, mask)
            if wd < 0 {
                ctx?.handlers.report(.watchFailed(directory: dir, errno: errno))
                continue
            }
            watches[wd] = dir
            watched[dir] = wd
        }
        for (dir, wd) in watched where !want.contains(dir) {
            inotify_rm_watch(inotify, wd)
            watches[wd] = nil
            watched[dir] = nil
        }
    }

    private func excluded(_ path: String, _ entry: FileTailOptions.Entry) -> Bool {
        let name = (path as NSString).lastPathComponent
        return entry.exclude.contains { pattern in
            pattern.contains("/") ? fnmatch(pattern, path, FNM_PATHNAME) == 0 : fnmatch(pattern, name, 0) == 0
        }
    }

    /// The regular files the entries name now, each with the first entry that names it.
    private func matches() -> [(String, FileTailOptions.Entry)] {
        var out: [(String, FileTailOptions.Entry)] = []
        var seen: Set<String> = []
        for entry in options.entries {
            var g = glob_t()
            defer { globfree(&g) }
            guard glob(entry.path, 0, nil, &g) == 0 else { continue }
            for i in 0..<Int(g.gl_pathc) {
                guard let c = g.gl_pathv[i] else { continue }
                let path = String(cString: c)
                var st = stat()
                guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, !excluded(path, entry), seen.insert(path).inserted else { continue }
                out.append((path, entry))
            }
        }
        return out
    }

    /// Identities some follower reads now.
    private func claimed() -> Set<FileKey> {
        var keys: Set<FileKey> = []
        for (_, f) in followers {
            for file in f.old + (f.current.map { [$0] } ?? []) { keys.insert(FileKey(device: file.device, inode: file.inode)) }
        }
        return keys
    }

    /// Finds new files (and followers whose file is gone for good).
    private func discover(firstStart: Bool) {
        let now = Self.now()
        let found = matches()
        // Paths with a saved position first, so the identities they resume claim their files
        // (a rotated sibling matched by the same glob is then not read twice).
        let ordered = found.filter { ctx?.saved($0.0) != nil } + found.filter { ctx?.saved($0.0) == nil }
        for (path, entry) in ordered where followers[path] == nil {
            // A `.gz` still being written (gzip compressing a rotation) is looked at once gzip
            // is done with it (its chmod and the removal of the original come after, and rescan):
            // before that it cannot be told from a file already read, nor read whole.
            if path.hasSuffix(".gz") && ctx?.saved(path) == nil && !FileFingerprint.isCompleteGzip(path: path) { continue }
            // `start` applies only to files present when the entry is first followed: after that
            // (in this run or an earlier one) a file without a saved position is new.
            let seenBefore = !firstStart || (ctx?.startedBefore(entry) ?? false)
            let f = Follower(path: path, start: entry.start, isNew: seenBefore, host: options.host, now: now)
            if let saved = Saved(ctx?.saved(path)) {
                f.resume = saved
                // Followed before: whatever file the path names after the saved one is new,
                // read from 0 (also when the path is missing now, between a rotation's rename
                // and its create).
                f.isNew = true
            } else if let known = knownIdentity(path) {
                // Another name of a file already read (a rename within the glob, a compressed
                // copy): resume where it was left, or skip it while another follower reads it.
                if known.claimed { continue }
                f.resume = known.saved
            }
            followers[path] = f
            open(f, now: now)
        }
    }

    /// Whether the file at `path` is one already read under another name.
    private func knownIdentity(_ path: String) -> (claimed: Bool, saved: Saved?)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        let key = FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        if claimed().contains(key) { return (true, nil) }
        if let s = finished[key] {
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            if fd >= 0 {
                defer { close(fd) }
                if s.fingerprint.map({ $0.matches(fd: fd) }) ?? true { return (false, s) }
            }
        }
        if path.hasSuffix(".gz"), let fp = FileFingerprint.ofGzip(path: path) {
            // A compressed rotation of a file read before: its first bytes are a known file's.
            for (_, s) in finished.reversed() {
                guard let known = s.fingerprint, known.length > 0, fp.length >= known.length else { continue }
                if FileFingerprint.ofGzip(path: path, length: known.length) == known {
                    var done = s
                    done.key = key
                    done.offset = UInt64.max
                    return (false, done)
                }
            }
            for (_, f) in followers {
                for file in f.old + (f.current.map { [$0] } ?? []) where file.fingerprint.length > 0 && fp.length >= file.fingerprint.length {
                    if FileFingerprint.ofGzip(path: path, length: file.fingerprint.length) == file.fingerprint { return (true, nil) }
                }
            }
        }
        return nil
    }

    private func remember(_ file: TailedFile) {
        let s = Saved(file)
        if finished[s.key] == nil { finishedOrder.append(s.key) }
        finished[s.key] = s
        if finishedOrder.count > 4096 {
            let drop = finishedOrder.removeFirst()
            finished[drop] = nil
        }
    }

    // MARK: - Opening

    /// Makes room for one more open file: closes the follower idle longest (nothing pending,
    /// no rotated file in hand), keeping its position. False when none can be closed.
    private func freeSlot(except: Follower) -> Bool {
        guard openFiles >= options.maxOpen else { return true }
        let now = Self.now()
        let idle = followers.values.filter { f in
            f !== except && f.old.isEmpty && f.current.map { $0.pending.isEmpty && !$0.skipping && now - f.lastActive > 0.5 } ?? false
        }
        guard let victim = idle.min(by: { $0.lastActive < $1.lastActive }), let file = victim.current else { return false }
        victim.resume = Saved(file)
        victim.parked = true
        victim.current = nil
        openFiles -= 1
        return true
    }

    private func openFile(_ path: String, offset: UInt64, lines: Int, now: Double) throws(LogSourceError) -> TailedFile {
        let file = try TailedFile(path: path, offset: offset, lines: lines, now: now)
        openFiles += 1
        return file
    }

    private func fail(_ f: Follower, _ error: LogSourceError, now: Double) {
        if !f.failing {
            ctx?.handlers.report(.readError(path: f.path, error: error))
            f.retryDelay = options.retryDelay
        } else {
            f.retryDelay = min(f.retryDelay * 2, 60)
        }
        f.failing = true
        f.retryAt = now + f.retryDelay
    }

    /// Opens the file at the follower's path, from where it resumes.
    private func open(_ f: Follower, now: Double) {
        guard f.current == nil, !f.complete else { return }
        var st = stat()
        guard stat(f.path, &st) == 0 else {
            // Not there (yet): a saved position's file may be among rotated siblings.
            if let r = f.resume {
                f.resume = nil
                if let rest = findRest(of: r, for: f, excluding: nil, now: now) {
                    queueWritten(after: rest, for: f, excluding: nil, now: now)
                }
            }
            return
        }
        if !freeSlot(except: f) {
            if !f.waitingForSlot { ctx?.handlers.report(.tooManyOpen(path: f.path)) }
            f.waitingForSlot = true
            return
        }
        f.waitingForSlot = false
        do throws(LogSourceError) {
            if let r = f.resume {
                let file = try openFile(f.path, offset: 0, lines: 0, now: now)
                // The identity and size of the file opened, not of the one `stat` saw: a rotation
                // in between would otherwise take the new file for the saved one, and leave the
                // saved one out of the search for its rest.
                let key = FileKey(device: file.device, inode: file.inode)
                let size = file.size ?? UInt64(st.st_size)
                let same = r.key == key && (r.fingerprint.map { fp in file.isGzip ? fp == FileFingerprint.ofGzip(path: "/proc/self/fd/\(file.fd)", length: fp.length) : fp.matches(fd: file.fd) } ?? true)
                if same && (file.isGzip || size >= r.offset || r.offset == UInt64.max) {
                    if r.offset == UInt64.max || (file.isGzip && r.offset > 0 && gzAtEnd(file, r.offset)) {
                        // A compressed copy of what was read, or a gzip read to its end.
                        file.offset = r.offset == UInt64.max ? 0 : r.offset
                        f.complete = true
                        f.current = nil
                        openFiles -= 1
                        f.resume = nil
                        recover(f)
                        if r.offset != UInt64.max { ctx?.handlers.record(f.path, file.position(offset: r.offset, lines: r.lines)) }
                        return
                    }
                    let resumed = try reopen(file, at: r)
                    f.current = resumed
                } else {
                    // Rotated, truncated or replaced while nobody looked: the rest of the old
                    // file first (from a sibling), then this one from its start.
                    f.current = file
                    if file.isGzip { f.complete = false }
                    if let rest = findRest(of: r, for: f, excluding: same ? nil : key, now: now) {
                        queueWritten(after: rest, for: f, excluding: key, now: now)
                    }
                    if !f.old.isEmpty || r.key != key { ctx?.handlers.report(.rotated(path: f.path)) }
                    // While earlier files are unfinished the saved position stays theirs.
                    if f.old.isEmpty { ctx?.handlers.record(f.path, file.position) }
                }
                f.resume = nil
            } else {
                let file = try openFile(f.path, offset: 0, lines: 0, now: now)
                if !f.isNew && f.start == .end {
                    if file.isGzip {
                        // Present at the first start with `start: end`: old news, not read.
                        ctx?.handlers.record(f.path, file.position(offset: UInt64.max, lines: 0))
                        openFiles -= 1
                        f.complete = true
                        recover(f)
                        return
                    }
                    positionAtEnd(file)
                }
                f.isNew = true
                f.current = file
                // While earlier files are unfinished the saved position stays theirs (a crash
                // then resumes in them, not at the start of this one).
                if f.old.isEmpty { ctx?.handlers.record(f.path, file.position) }
            }
            recover(f)
            if let c = f.current, !f.parked { ctx?.handlers.report(.following(path: f.path, offset: c.offset)) }
            f.parked = false
        } catch {
            fail(f, error, now: now)
        }
    }

    private func recover(_ f: Follower) {
        if f.failing { ctx?.handlers.report(.resumed(path: f.path)) }
        f.failing = false
    }

    /// A gzip file whose saved offset is at or past its decompressed end.
    private func gzAtEnd(_ file: TailedFile, _ offset: UInt64) -> Bool {
        guard let gz = gzopen("/proc/self/fd/\(file.fd)", "rb") else { return false }
        defer { gzclose(gz) }
        gzseek(gz, off_t(offset), SEEK_SET)
        var byte: UInt8 = 0
        return gzread(gz, &byte, 1) <= 0
    }

    /// The same identity again at `r`'s offset (a new `TailedFile`, the first one closed).
    private func reopen(_ file: TailedFile, at r: Saved) throws(LogSourceError) -> TailedFile {
        let path = file.path
        openFiles -= 1
        return try openFile(path, offset: r.offset, lines: r.lines, now: Self.now())
    }

    /// `start: end`: after the last newline, the lines before it counted.
    private func positionAtEnd(_ file: TailedFile) {
        guard let size = file.size, size > 0 else { return }
        var lines = 0
        var offset: UInt64 = 0
        var at: UInt64 = 0
        let chunk = 1 << 20
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { scratch.deallocate() }
        while at < size {
            let n = pread(file.fd, scratch.baseAddress!, min(chunk, Int(size - at)), off_t(at))
            if n <= 0 { break }
            let part = UnsafeRawBufferPointer(rebasing: scratch[0..<n])
            lines += countNewlines(part)
            if let nl = lastNewline(scratch.baseAddress!, from: 0, to: n) { offset = at + UInt64(nl) + 1 }
            at += UInt64(n)
        }
        file.offset = offset
        file.lines = lines
        lseek(file.fd, off_t(offset), SEEK_SET)
    }

    /// The rest of the file of `r` (no longer at the path): a sibling in the path's directory
    /// whose name begins with the path's file name and that is the same identity, else one with
    /// the same first bytes and at least `r.offset` of them (a copy, a `.gz`). Queued in `old`.
    @discardableResult
    private func findRest(of r: Saved, for f: Follower, excluding: FileKey?, now: Double) -> String? {
        let dir = (f.path as NSString).deletingLastPathComponent
        let name = (f.path as NSString).lastPathComponent
        let siblings = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0 != name && $0.hasPrefix(name) }
            .sorted()
            .map { dir + "/" + $0 }
        var byFingerprint: String?
        for path in siblings {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let key = FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            if key == excluding { continue }
            if key == r.key {
                if let file = try? openFile(path, offset: 0, lines: 0, now: now) {
                    if r.fingerprint.map({ file.isGzip ? $0 == FileFingerprint.ofGzip(path: path, length: $0.length) : $0.matches(fd: file.fd) }) ?? true {
                        openFiles -= 1
                        if let rest = try? openFile(path, offset: r.offset, lines: r.lines, now: now) {
                            f.old.append(rest)
                            ctx?.handlers.report(.restFound(path: f.path, sibling: path, offset: r.offset))
                            return path
                        }
                    } else {
                        openFiles -= 1
                    }
                }
                continue
            }
            if byFingerprint == nil, let fp = r.fingerprint, fp.length > 0 {
                let isGz = path.hasSuffix(".gz")
                let candidate: FileFingerprint?
                if isGz {
                    candidate = settledGzipFingerprint(path, length: fp.length)
                } else {
                    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
                    candidate = fd >= 0 ? FileFingerprint.of(fd: fd, length: fp.length) : nil
                    if fd >= 0 { close(fd) }
                }
                if candidate == fp && (isGz || UInt64(st.st_size) >= r.offset) { byFingerprint = path }
            }
        }
        if let path = byFingerprint, let rest = try? openFile(path, offset: r.offset, lines: r.lines, now: now) {
            f.old.append(rest)
            ctx?.handlers.report(.restFound(path: f.path, sibling: path, offset: r.offset))
            return path
        }
        if r.offset > 0 { ctx?.handlers.report(.restMissing(path: f.path, offset: r.offset)) }
        return nil
    }

    /// Rotated more than once while casewatch was down, or since the last look: the path's
    /// siblings last written after `rest` (the old file), oldest first, from 0: generations
    /// never read.
    /// Compressed ones whose first bytes are those of a file in hand are left out.
    private func queueWritten(after rest: String, for f: Follower, excluding: FileKey?, now: Double) {
        func mtime(_ st: stat) -> Double { Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9 }
        var restStat = stat()
        guard stat(rest, &restStat) == 0 else { return }
        let dir = (f.path as NSString).deletingLastPathComponent
        let name = (f.path as NSString).lastPathComponent
        var held = Set((f.old + (f.current.map { [$0] } ?? [])).map { FileKey(device: $0.device, inode: $0.inode) })
        if let excluding { held.insert(excluding) }
        // First bytes of the files in hand and of those read to their end: a `.gz` of one of
        // them is a compressed copy of what was read.
        // (Read afresh for a file opened short and not read yet: logrotate may have compressed
        // it before its turn came, and its kept fingerprint of 0 bytes would match no `.gz`.)
        let fingerprints = Set(((f.old + (f.current.map { [$0] } ?? [])).map(\.liveFingerprint) + finished.values.compactMap(\.fingerprint)).filter { $0.length > 0 })
        let lengths = Set(fingerprints.map(\.length))
        var later: [(Double, String)] = []
        for s in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where s != name && s.hasPrefix(name) {
            let path = dir + "/" + s
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, mtime(st) > mtime(restStat) else { continue }
            let key = FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            // Held, or read to its end already (a file rotated before it was ever written, whose
            // mtime is its creation, is older than the last writes of the one before it).
            guard !held.contains(key), finished[key] == nil else { continue }
            if s.hasSuffix(".gz"), lengths.contains(where: { settledGzipFingerprint(path, length: $0).map(fingerprints.contains) ?? false }) { continue }
            later.append((mtime(st), path))
        }
        for (_, path) in later.sorted(by: { $0.0 < $1.0 }) {
            if let file = try? openFile(path, offset: 0, lines: 0, now: now) {
                f.old.append(file)
                ctx?.handlers.report(.restFound(path: f.path, sibling: path, offset: 0))
            }
        }
    }

    /// copytruncate more than once since the last look: the copies made after `copy` (logrotate
    /// numbers them `<name>.<n>[.gz]`, the newest 1) hold whole generations never read, read
    /// from 0, oldest first.
    private func queueNewerCopies(after copy: String, for f: Follower, now: Double) {
        let base = f.path + "."
        guard copy.hasPrefix(base) else { return }
        var rest = copy.dropFirst(base.count)
        if rest.hasSuffix(".gz") { rest = rest.dropLast(3) }
        guard let k = Int(rest), k > 1 else { return }
        let held = Set((f.old + (f.current.map { [$0] } ?? [])).map { FileKey(device: $0.device, inode: $0.inode) })
        // Only files written after the copy was: other naming schemes (numbers counting up)
        // put older files there.
        var copyStat = stat()
        guard stat(copy, &copyStat) == 0 else { return }
        let copyTime = Double(copyStat.st_mtim.tv_sec) + Double(copyStat.st_mtim.tv_nsec) / 1e9
        for j in stride(from: k - 1, through: 1, by: -1) {
            for candidate in ["\(base)\(j)", "\(base)\(j).gz"] where FileManager.default.fileExists(atPath: candidate) {
                var st = stat()
                guard stat(candidate, &st) == 0 else { break }
                if held.contains(FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))) { break }
                if Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9 < copyTime { break }
                if let file = try? openFile(candidate, offset: 0, lines: 0, now: now) {
                    file.isCopy = true
                    f.old.append(file)
                    ctx?.handlers.report(.restFound(path: f.path, sibling: candidate, offset: 0))
                }
                break
            }
        }
    }

    /// The first `length` decompressed bytes of a `.gz` sibling, once gzip is done writing it.
    /// logrotate compresses right after it renames, so at a rotation the newest `.gz` may still
    /// be being written: empty, or shorter than `length`, it would pass for a file never read
    /// (and the generation in hand would be read a second time from it). Then this waits, up to
    /// `wait` seconds, for the stream to be whole; a whole `.gz` of a short file is taken as is.
    /// Only a `.gz` written in the last 5 seconds is waited for (gzip at work); an old one that
    /// is short or cut (gzip killed) is taken as it is, so it costs no wait at every rotation.
    private func settledGzipFingerprint(_ path: String, length: Int, wait: Double = 2) -> FileFingerprint? {
        let deadline = Self.now() + wait
        while true {
            let fp = FileFingerprint.ofGzip(path: path, length: length)
            if let fp, fp.length >= min(length, FileFingerprint.size) { return fp }
            var st = stat()
            let recent = stat(path, &st) == 0 && Date().timeIntervalSince1970 - (Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9) < 5
            if !recent || FileFingerprint.isCompleteGzip(path: path) || Self.now() >= deadline { return FileFingerprint.ofGzip(path: path, length: length) }
            usleep(10_000)
        }
    }

    /// The rotated name of `file` among the path's siblings: the same inode, or (compressed
    /// since) a `.gz` with its fingerprint.
    private func renamed(_ file: TailedFile, _ f: Follower) -> String? {
        let dir = (f.path as NSString).deletingLastPathComponent
        let name = (f.path as NSString).lastPathComponent
        let siblings = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0 != name && $0.hasPrefix(name) }.sorted()
        for s in siblings {
            var st = stat()
            if stat(dir + "/" + s, &st) == 0, UInt64(st.st_ino) == file.inode, UInt64(st.st_dev) == file.device { return dir + "/" + s }
        }
        let fingerprint = file.liveFingerprint
        guard fingerprint.length > 0 else { return nil }
        for s in siblings where s.hasSuffix(".gz") {
            if settledGzipFingerprint(dir + "/" + s, length: fingerprint.length) == fingerprint { return dir + "/" + s }
        }
        return nil
    }

    // MARK: - Reading

    private func serviceAll() throws {
        let now = Self.now()
        for path in followers.keys.sorted() {
            guard let f = followers[path] else { continue }
            try service(f, now: now)
            if isStopped { return }
        }
    }

    /// Checks the follower's path for rotation and truncation, and reads what is new.
    private func service(_ f: Follower, now: Double) throws {
        var st = stat()
        var exists = stat(f.path, &st) == 0
        if f.current == nil && !f.complete {
            if f.failing && now < f.retryAt { return }
            if f.parked, exists, let r = f.resume, r.key == FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)), UInt64(st.st_size) == r.offset {
                return  // closed to free a slot, and nothing new in it
            }
            open(f, now: now)
            exists = stat(f.path, &st) == 0
        }
        if let c = f.current {
            let key = FileKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            if !exists || key != FileKey(device: c.device, inode: c.inode) {
                // Renamed away or deleted: finish it before anything new at the path.
                f.old.append(c)
                f.current = nil
                f.isNew = true
                if exists { ctx?.handlers.report(.rotated(path: f.path)) }
                // Rotated more than once since the last look (a busy follower looks between
                // reads of up to `chunkSize` bytes, each handed to the sinks first), perhaps
                // caught between a rename and a create: the generations in between were renamed
                // (and perhaps compressed) before they were opened. logrotate's numbering
                // (newest 1), then any other (numbers or dates counting up: the siblings written
                // after this file).
                if let name = renamed(c, f) {
                    queueNewerCopies(after: name, for: f, now: now)
                    queueWritten(after: name, for: f, excluding: nil, now: now)
                }
                if exists {
                    open(f, now: now)
                }
            } else if !c.isGzip, let size = c.size, size < c.readOffset || c.contentReplaced {
                // Shorter than what was read, or its first bytes changed: truncated (and
                // perhaps written again). Anything not read yet is in the copy, if there is one.
                ctx?.handlers.report(.truncated(path: f.path))
                let r = Saved(c)
                let before = f.old.count
                if let copy = findRest(of: r, for: f, excluding: FileKey(device: c.device, inode: c.inode), now: now) {
                    queueNewerCopies(after: copy, for: f, now: now)
                }
                for file in f.old[before...] { file.isCopy = true }
                c.restart(now: now)
                if f.old.isEmpty { ctx?.handlers.record(f.path, c.position) }
            }
        }
        // Earlier files first, each to its end.
        while let o = f.old.first {
            try read(o, f, now: now)
            if isStopped { return }
            let nextHasData = (f.current?.size ?? 0) > 0
            let gone = o.links == 0
            let staticCopy = o.isGzip || f.old.count > 1
            guard o.atEnd else { return }
            if staticCopy || nextHasData || (gone && now - o.lastData >= min(1, options.rotateWait)) || now - o.lastData >= options.rotateWait {
                // One last read: the writer may have written just before moving on.
                try read(o, f, now: now)
                if !o.atEnd { return }
                try flushPartial(o, f, force: true)
                remember(o)
                f.old.removeFirst()
                openFiles -= 1
                if let c = f.current, f.old.isEmpty { ctx?.handlers.record(f.path, c.position) }
                continue
            }
            return
        }
        if let c = f.current {
            try read(c, f, now: now)
            if c.isGzip && c.atEnd {
                try flushPartial(c, f, force: true)
                ctx?.handlers.record(f.path, c.position)
                remember(c)
                f.current = nil
                openFiles -= 1
                f.complete = true
            }
        }
        if f.current == nil && f.old.isEmpty && !exists && !f.failing {
            followers[f.path] = nil
            ctx?.handlers.forget(f.path)
            ctx?.handlers.report(.released(path: f.path))
        } else if f.complete && !exists {
            followers[f.path] = nil
            ctx?.handlers.forget(f.path)
        }
    }

    /// Reads `file` towards its end, handing whole lines over: at most `readsPerTurn` reads, so
    /// that a busy file does not keep the others, and rotations, from being looked at
    /// (`atEnd` says whether it got there).
    private func read(_ file: TailedFile, _ f: Follower, now: Double, readsPerTurn: Int = 2) throws {
        let base = buffer.baseAddress!
        let cap = options.maxLineLength
        file.atEnd = false
        var reads = 0
        while !isStopped && reads < readsPerTurn {
            reads += 1
            var filled = file.pending.count
            if filled > 0 { file.pending.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: filled) } }
            let room = min(options.chunkSize, buffer.count - filled)
            let n: Int
            do throws(LogSourceError) {
                n = try file.read(into: base + filled, room)
            } catch {
                fail(f, error, now: now)
                return
            }
            if n == 0 {
                file.atEnd = true
                // The wait for a partial line's newline starts when there is nothing more to read.
                if !file.pending.isEmpty && file.partialSince == nil { file.partialSince = Self.now() }
                break
            }
            // copytruncate between the look at the file's first bytes and this read: what was
            // read may be the new content at the old offset (written past it since the
            // truncate). So the first bytes are looked at again after the read: changed, the
            // read is dropped, and the next look finds the truncation and reads the rest from
            // the copy (nothing lost: the copy holds all that was read here, and more).
            if file === f.current, !file.isGzip, file.fingerprint.length > 0, !file.fingerprint.matches(fd: file.fd) {
                lseek(file.fd, off_t(file.offset) + off_t(file.pending.count), SEEK_SET)
                ctx?.handlers.report(.readDropped(path: f.path, bytes: n))
                return
            }
            file.partialSince = nil
            recover(f)
            file.lastData = now
            f.lastActive = now
            filled += n
            let origin = file.offset
            file.refreshFingerprint(readEnd: origin + UInt64(filled))
            var start = 0
            if file.skipping {
                if let nl = memchr(base, 0x0A, filled) {
                    start = base.distance(to: nl) + 1
                    file.skipping = false
                } else {
                    file.offset += UInt64(filled)
                    file.pending = []
                    continue
                }
            }
            batch.removeAll()
            let t = Date().timeIntervalSince1970
            if let nl = lastNewline(base, from: start, to: filled) {
                appendLines(file, f, start..<nl + 1, origin: origin, time: t)
                start = nl + 1
            }
            if filled - start > cap {
                appendCut(file, f, start, time: t)
                start = filled
                file.skipping = true
            }
            file.offset = origin + UInt64(start)
            file.pending = start < filled ? Array(UnsafeRawBufferPointer(start: base + start, count: filled - start)) : []
            if !batch.isEmpty {
                try ctx!.handlers.deliver(batch, f.path)
            }
        }
        if file.atEnd { try flushPartial(file, f, force: false) }
    }

    /// Hands the partial line over once it has waited `partialLineWait` (or now, `force`).
    private func flushPartial(_ file: TailedFile, _ f: Follower, force: Bool) throws {
        guard !file.pending.isEmpty, force || file.partialSince.map({ Self.now() - $0 >= options.partialLineWait }) ?? false else { return }
        batch.removeAll()
        file.lines += 1
        file.offset += UInt64(file.pending.count)
        file.pending.withUnsafeBytes {
            batch.append($0, origin: f.origin, firstLine: file.lines, time: Date().timeIntervalSince1970, end: file.position)
        }
        file.pending = []
        file.partialSince = nil
        try ctx!.handlers.deliver(batch, f.path)
    }

    /// Whole lines `range` of the buffer, as segments (a line longer than the cap alone, cut).
    private func appendLines(_ file: TailedFile, _ f: Follower, _ range: Range<Int>, origin: UInt64, time: Double) {
        let base = buffer.baseAddress!
        let cap = options.maxLineLength
        func whole(_ r: Range<Int>) {
            guard !r.isEmpty else { return }
            let bytes = UnsafeRawBufferPointer(start: base + r.lowerBound, count: r.count)
            let first = file.lines + 1
            file.lines += countNewlines(bytes)
            batch.append(bytes, origin: f.origin, firstLine: first, time: time, end: file.position(offset: origin + UInt64(r.upperBound), lines: file.lines))
        }
        if range.count <= cap + 1 { return whole(range) }
        var run = range.lowerBound, line = range.lowerBound
        while line < range.upperBound {
            let end = memchr(base + line, 0x0A, range.upperBound - line).map { base.distance(to: $0) } ?? range.upperBound
            if end - line > cap {
                whole(run..<line)
                appendCut(file, f, line, time: time)
                run = min(end + 1, range.upperBound)
            }
            line = end + 1
        }
        whole(run..<range.upperBound)
    }

    /// The first `maxLineLength` bytes of the line at `start`, marked truncated. Its position is
    /// left to the next whole line (a restart there reads the long line again, whole).
    private func appendCut(_ file: TailedFile, _ f: Follower, _ start: Int, time: Double) {
        let bytes = UnsafeRawBufferPointer(start: buffer.baseAddress! + start, count: options.maxLineLength)
        file.lines += 1
        batch.append(bytes, origin: f.origin, firstLine: file.lines, time: time, truncatedAt: options.maxLineLength, end: .none)
    }
}
