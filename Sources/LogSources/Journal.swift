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

    /// Resumes after the entry of `cursor`.
    /// The corresponding C function is `sd_journal_seek_cursor`.
    public func seek(cursor: String) throws(SystemdError) {
        try SystemdError.check(sd_journal_seek_cursor(handle, cursor), "Failed to seek to cursor")
        try SystemdError.check(sd_journal_next(handle), "Failed to seek to cursor")
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
