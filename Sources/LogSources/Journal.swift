import CSystemd
import Foundation

/// Writes structured entries to the systemd journal.
public enum JournalWriter {
    /// Sends one entry; `fields` are `NAME=value` pairs (names upper-case, `MESSAGE` among them).
    /// Values may hold newlines and any bytes.
    /// The corresponding C function is `sd_journal_sendv`.
    public static func send(_ fields: [(name: String, value: String)]) throws(SystemdError) {
        let items = fields.map { Array("\($0.name)=\($0.value)".utf8) }
        let pointers = items.map { bytes -> UnsafeMutableRawPointer in
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            return p
        }
        defer { pointers.forEach { $0.deallocate() } }
        var vectors = zip(pointers, items).map { iovec(iov_base: $0, iov_len: $1.count) }
        try SystemdError.check(sd_journal_sendv(&vectors, Int32(vectors.count)), "Failed to write to the journal")
    }

    /// Returns once journald has written to its files every message it received before the
    /// call (what `journalctl --sync` does), so a reader then finds them. journald answers on
    /// its varlink socket, `/run/systemd/journal/io.systemd.journal`, method
    /// `io.systemd.Journal.Synchronize`; `timeout` seconds bound the wait.
    public static func synchronize(timeout: Double = 10) throws(SystemdError) {
        let path = "/run/systemd/journal/io.systemd.journal"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemdError(errno: errno, "Failed to synchronize the journal") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            path.utf8CString.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        var wait = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw SystemdError(errno: errno, "Failed to connect to \(path)") }
        let request = Array(#"{"method":"io.systemd.Journal.Synchronize","parameters":{}}"#.utf8) + [0]
        guard Glibc.send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
            throw SystemdError(errno: errno, "Failed to synchronize the journal")
        }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while !reply.contains(0) {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { throw SystemdError(errno: n == 0 ? ECONNRESET : errno, "Failed to synchronize the journal") }
            reply += buffer[0..<n]
        }
        // {"parameters":{}} on success; {"error":"...", ...} otherwise.
        if String(decoding: reply, as: UTF8.self).contains(#""error""#) {
            throw SystemdError(errno: EPROTO, "Failed to synchronize the journal: \(String(decoding: reply.prefix { $0 != 0 }, as: UTF8.self))")
        }
    }
}

/// Reads the journal through sd-journal. Not thread-safe: systemd's rule is one thread per
/// handle, so the owner keeps it on one thread for its whole life.
public final class JournalReader {
    private var handle: OpaquePointer?

    /// Opens the local journal (this machine's files, system and user).
    /// The corresponding C function is `sd_journal_open`.
    public init() throws(SystemdError) {
        try SystemdError.check(sd_journal_open(&handle, Int32(SD_JOURNAL_LOCAL_ONLY)), "Failed to open journal")
    }

    /// Opens the journal files of one directory.
    /// The corresponding C function is `sd_journal_open_directory`.
    public init(directory: String) throws(SystemdError) {
        try SystemdError.check(sd_journal_open_directory(&handle, directory, 0), "Failed to open journal directory \(directory)")
    }

    deinit { sd_journal_close(handle) }

    /// Only entries with `field=value` (several matches on different fields: all must hold).
    /// The corresponding C function is `sd_journal_add_match`.
    public func addMatch(_ field: String, _ value: String) throws(SystemdError) {
        let match = Array("\(field)=\(value)".utf8)
        try SystemdError.check(match.withUnsafeBytes { sd_journal_add_match(handle, $0.baseAddress, $0.count) }, "Failed to add journal match")
    }

    /// The corresponding C function is `sd_journal_seek_head`.
    public func seekHead() throws(SystemdError) {
        try SystemdError.check(sd_journal_seek_head(handle), "Failed to seek to the journal head")
    }

    /// After this, `next()` returns entries written from now on.
    /// The corresponding C functions are `sd_journal_seek_tail` and `sd_journal_previous`.
    public func seekTail() throws(SystemdError) {
        try SystemdError.check(sd_journal_seek_tail(handle), "Failed to seek to the journal tail")
        try SystemdError.check(sd_journal_previous(handle), "Failed to seek to the journal tail")
    }

    /// Puts the read pointer so that `next()` returns the first entry after the entry of
    /// `cursor`, or, when that entry is gone, the oldest entry after where it was. Call it
    /// before `addMatch` (matches added afterwards keep the position).
    /// The corresponding C functions are `sd_journal_seek_cursor` and `sd_journal_test_cursor`.
    public func seek(after cursor: String) throws(SystemdError) -> CursorSeek {
        try LogSources.seek(handle!, after: cursor)
    }

    /// Puts the read pointer so that `next()` returns the first entry written at or after
    /// `time` (seconds since the epoch).
    /// The corresponding C function is `sd_journal_seek_realtime_usec`.
    public func seek(realtime time: Double) throws(SystemdError) {
        try SystemdError.check(sd_journal_seek_realtime_usec(handle, UInt64(max(time, 0) * 1_000_000)), "Failed to seek to a time")
    }

    /// Moves to the next entry; false at the end.
    /// The corresponding C function is `sd_journal_next`.
    public func next() throws(SystemdError) -> Bool {
        try SystemdError.check(sd_journal_next(handle), "Failed to read the journal") > 0
    }

    /// Waits until the journal changes or `timeout` seconds pass; true when it changed.
    /// The corresponding C function is `sd_journal_wait`.
    public func wait(timeout: Double) throws(SystemdError) -> Bool {
        try SystemdError.check(sd_journal_wait(handle, UInt64(timeout * 1_000_000)), "Failed to wait for the journal") != SD_JOURNAL_NOP
    }

    /// A field of the current entry, or nil when it has none.
    /// The corresponding C function is `sd_journal_get_data`.
    public func field(_ name: String) throws(SystemdError) -> String? {
        var data: UnsafeRawPointer? = nil
        var length = 0
        let rc = sd_journal_get_data(handle, name, &data, &length)
        if rc == -ENOENT { return nil }
        try SystemdError.check(rc, "Failed to read journal field \(name)")
        guard let data else { return nil }
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        // "NAME=value"
        let prefix = name.utf8.count + 1
        return String(decoding: bytes[min(prefix, length)...], as: UTF8.self)
    }

    /// The cursor of the current entry, to resume exactly after it.
    /// The corresponding C function is `sd_journal_get_cursor`.
    public func cursor() throws(SystemdError) -> String {
        var raw: UnsafeMutablePointer<CChar>? = nil
        try SystemdError.check(sd_journal_get_cursor(handle, &raw), "Failed to get the journal cursor")
        defer { free(raw) }
        return String(cString: raw!)
    }
}

/// Where a seek after a cursor landed.
public enum CursorSeek: Sendable, Hashable {
    /// The cursor's entry is there: reading continues just after it.
    case found
    /// The cursor's entry is gone (vacuumed): reading continues at the oldest entry after it.
    case vanished
    /// Not a journal cursor: the read pointer did not move.
    case invalid
}

/// Positions `j`, which must have no matches yet, so that `sd_journal_next` returns the first
/// entry after the cursor's entry, or the oldest entry after where it was when it is gone.
/// Without matches, the cursor's own entry is found even when later matches would skip it.
func seek(_ j: OpaquePointer, after cursor: String) throws(SystemdError) -> CursorSeek {
    guard sd_journal_seek_cursor(j, cursor) >= 0 else { return .invalid }
    let r = try SystemdError.check(sd_journal_next(j), "Failed to seek to the cursor")
    if r > 0, sd_journal_test_cursor(j, cursor) > 0 { return .found }  // on it: read after it
    if r > 0 {
        // On the oldest entry after the cursor: step back so it is read too.
        if try SystemdError.check(sd_journal_previous(j), "Failed to seek to the cursor") == 0 {
            try SystemdError.check(sd_journal_seek_head(j), "Failed to seek to the journal head")
        }
    }
    // r == 0: nothing after the cursor yet; the seek location stays, and later entries come
    // after it.
    return .vanished
}
