import Foundation

/// A regular file mapped into memory, private and writable (copy-on-write: the matcher cleans
/// lines in place without touching the file), for scanning a large saved log on every core
/// without copying it.
public final class MappedFile {
    public let path: String
    public let bytes: UnsafeMutableRawBufferPointer

    /// Maps `path`, or returns nil when it is not a plain regular file worth mapping (a pipe,
    /// a gzip file, an empty or small file): the caller then reads it as a stream.
    /// The corresponding C function is `mmap`.
    public init?(path: String, minimumSize: Int = 0) throws(LogSourceError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            throw LogSourceError(.open, source: path, "Failed to open: \(String(cString: strerror(e)))", errno: e)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0, Int(st.st_size) >= minimumSize else {
            return nil
        }
        var magic: (UInt8, UInt8) = (0, 0)
        if pread(fd, &magic, 2, 0) == 2 && magic.0 == 0x1F && magic.1 == 0x8B { return nil }
        let size = Int(st.st_size)
        // No MAP_POPULATE: on a private writable mapping it would copy every page up front;
        // faulted on first read, a page stays the page cache's until the sanitizer writes to it.
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            return nil
        }
        madvise(p, size, MADV_SEQUENTIAL)
        madvise(p, size, MADV_WILLNEED)
        bytes = UnsafeMutableRawBufferPointer(start: p, count: size)
        // The file was read whole; reading it again would not see later appends anyway.
    }

    deinit { munmap(bytes.baseAddress, bytes.count) }

    /// Consecutive ranges of about `size` bytes that cover the file, each ending just after a
    /// `\n` (the last at the end of the file).
    public func blocks(of size: Int) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        let n = bytes.count
        while start < n {
            var end = min(start + max(size, 1), n)
            if end < n, let nl = memchr(bytes.baseAddress! + end - 1, 0x0A, n - end + 1) {
                end = bytes.baseAddress!.distance(to: nl) + 1
            } else {
                end = n
            }
            result.append(start..<end)
            start = end
        }
        return result
    }
}
