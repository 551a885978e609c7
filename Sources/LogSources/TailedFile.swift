import CZlib
import Foundation

/// One open file a `FileTail` reads: one identity (device and inode), its read position and the
/// partial line read after its last newline. A plain file is read as it grows; a gzip file
/// (by its magic bytes) is read once, its offsets counting decompressed bytes.
final class TailedFile {
    /// Where it was opened (for messages; it may have been renamed since).
    let path: String
    let fd: Int32
    private var gz: gzFile?
    let device: UInt64
    let inode: UInt64
    var isGzip: Bool { gz != nil }
    var fingerprint: FileFingerprint
    /// Bytes handed over or skipped: the start of `pending`.
    var offset: UInt64
    /// Lines handed over before `offset`.
    var lines: Int
    /// Bytes read after `offset` without a newline yet (a partial line).
    var pending: [UInt8] = []
    /// When `pending` started waiting for its newline (monotonic seconds).
    var partialSince: Double?
    /// Inside the rest of a line longer than the cap: bytes are dropped up to its newline.
    var skipping = false
    /// The last time a read returned bytes (monotonic seconds).
    var lastData: Double
    /// The read hit the end of the file (or the end of a gzip stream).
    var atEnd = false
    /// A copy made by copytruncate (static, read to its end): the file at the path may be read
    /// before it is finished.
    var isCopy = false

    /// Opens `path` for reading at `offset` (after `lines` lines). Throws the `open` error.
    init(path: String, offset: UInt64, lines: Int, now: Double) throws(LogSourceError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let e = errno
            throw LogSourceError(.open, source: path, "Failed to open: \(String(cString: strerror(e)))", errno: e)
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw LogSourceError(.open, source: path, "Not a regular file")
        }
        self.path = path
        self.fd = fd
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        self.offset = offset
        self.lines = lines
        lastData = now
        fingerprint = FileFingerprint(length: 0, hash: 0)
        var magic: (UInt8, UInt8) = (0, 0)
        if pread(fd, &magic, 2, 0) == 2 && magic.0 == 0x1F && magic.1 == 0x8B {
            let copy = dup(fd)
            if copy >= 0, let g = gzdopen(copy, "rb") {
                gzbuffer(g, 128 * 1024)
                gz = g
                fingerprint = FileFingerprint.ofGzip(path: "/proc/self/fd/\(fd)") ?? fingerprint
                if offset > 0 { gzseek(g, off_t(offset), SEEK_SET) }
                return
            }
            if copy >= 0 { close(copy) }
        }
        fingerprint = FileFingerprint.of(fd: fd) ?? fingerprint
        lseek(fd, off_t(offset), SEEK_SET)
    }

    deinit {
        if let gz { gzclose(gz) }
        close(fd)
    }

    /// The file's size now (plain files), or nil when it cannot be told.
    var size: UInt64? {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_size) : nil
    }

    /// Links left: 0 once the file is deleted (it is then read to its end and let go).
    var links: Int {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_nlink) : 0
    }

    /// Where the next read starts.
    var readOffset: UInt64 { offset + UInt64(pending.count) }

    /// Reads up to `count` bytes at the read position; 0 at the end.
    func read(into p: UnsafeMutableRawPointer, _ count: Int) throws(LogSourceError) -> Int {
        if let gz {
            let n = gzread(gz, p, UInt32(min(count, Int(Int32.max))))
            if n >= 0 { return Int(n) }
            // A stream cut short (gzip still writing it): what was read stays read.
            return 0
        }
        while true {
            let n = Foundation.read(fd, p, count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            let e = errno
            throw LogSourceError(.read, source: path, "Failed to read: \(String(cString: strerror(e)))", errno: e)
        }
    }

    /// The file was truncated (copytruncate) or rewritten: read it again from its start.
    func restart(now: Double) {
        offset = 0
        lines = 0
        pending = []
        partialSince = nil
        skipping = false
        atEnd = false
        lastData = now
        lseek(fd, 0, SEEK_SET)
        fingerprint = FileFingerprint.of(fd: fd) ?? FileFingerprint(length: 0, hash: 0)
    }

    /// Recomputes the fingerprint while the file is shorter than `FileFingerprint.size`.
    func refreshFingerprint(readEnd: UInt64) {
        guard !isGzip, fingerprint.length < FileFingerprint.size, readEnd > UInt64(fingerprint.length) else { return }
        if let f = FileFingerprint.of(fd: fd) { fingerprint = f }
    }

    /// The fingerprint of the file's first bytes as they are now, read from the open descriptor
    /// when the one kept is shorter than `FileFingerprint.size` (a file opened empty, or
    /// short, and not read since: its kept fingerprint would match any file, or none).
    var liveFingerprint: FileFingerprint {
        guard !isGzip, fingerprint.length < FileFingerprint.size else { return fingerprint }
        return FileFingerprint.of(fd: fd) ?? fingerprint
    }

    /// The content at the start of the file is no longer what was read (truncated and written
    /// again, with more bytes than were read before the check).
    var contentReplaced: Bool {
        guard !isGzip, fingerprint.length > 0 else { return false }
        return !fingerprint.matches(fd: fd)
    }

    /// The position after `offset` bytes, `lines` lines.
    func position(offset: UInt64, lines: Int) -> RecordPosition {
        .file(device: device, inode: inode, offset: offset, fingerprint: fingerprint, lines: lines)
    }

    var position: RecordPosition { position(offset: offset, lines: lines) }
}
