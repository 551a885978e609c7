import CZlib
import Foundation

/// A hash of a file's first bytes (at most `FileFingerprint.size`): with the device and inode it
/// says whether a file is still the one a position was saved for. An inode number is reused
/// once its file is deleted; the first bytes of a log (a timestamp, a banner) almost never are.
/// A file shorter than `size` has the fingerprint of all of it, recomputed as it grows, so a
/// fingerprint of `length` bytes matches every later state of the same file.
public struct FileFingerprint: Sendable, Hashable, Codable {
    public static let size = 1024

    /// How many bytes were hashed.
    public var length: Int
    /// FNV-1a (64 bits) of those bytes.
    public var hash: UInt64

    public init(length: Int, hash: UInt64) {
        self.length = length
        self.hash = hash
    }

    public init(_ bytes: UnsafeRawBufferPointer) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        self.init(length: bytes.count, hash: h)
    }

    /// The fingerprint of the first `min(length, size)` bytes of an open plain file (`pread`,
    /// the file offset is not moved), or nil when they cannot be read.
    public static func of(fd: Int32, length: Int = size) -> FileFingerprint? {
        let want = min(length, size)
        var buffer = [UInt8](repeating: 0, count: want)
        var got = 0
        while got < want {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, want - got, off_t(got)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += n
        }
        return buffer.withUnsafeBytes { FileFingerprint(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
    }

    /// The fingerprint of the first `min(length, size)` decompressed bytes of a gzip file.
    public static func ofGzip(path: String, length: Int = size) -> FileFingerprint? {
        guard let gz = gzopen(path, "rb") else { return nil }
        defer { gzclose(gz) }
        let want = min(length, size)
        var buffer = [UInt8](repeating: 0, count: want)
        var got = 0
        while got < want {
            let n = buffer.withUnsafeMutableBytes { gzread(gz, $0.baseAddress! + got, UInt32(want - got)) }
            if n <= 0 { break }
            got += Int(n)
        }
        return buffer.withUnsafeBytes { FileFingerprint(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
    }

    /// Whether `path` holds a whole gzip stream: its magic bytes, and decompressed to its end
    /// with no error (a file gzip is still writing ends short).
    public static func isCompleteGzip(path: String) -> Bool {
        guard let gz = gzopen(path, "rb") else { return false }
        defer { gzclose(gz) }
        guard gzdirect(gz) == 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { gzread(gz, $0.baseAddress!, UInt32($0.count)) }
            if n < 0 { return false }
            if n == 0 { break }
        }
        var code: Int32 = 0
        _ = gzerror(gz, &code)
        return code == Z_OK
    }

    /// Whether the file's current first bytes are those this fingerprint was made of.
    public func matches(fd: Int32) -> Bool {
        guard let now = Self.of(fd: fd, length: length) else { return length == 0 }
        return now == self
    }
}
