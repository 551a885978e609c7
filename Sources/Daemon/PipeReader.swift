import Foundation

/// Reads the standard output of every `kubectl logs -f` (transport `kubectl-logs`) on one thread
/// of its own: `poll(2)` over the pipes, what came handed to each stream's `LogOutput` there, and
/// a nap of `ReadPacer`'s interval after a wake-up that read something, so that 200 slow streams
/// cost a few wake-ups a second instead of one (and a task hand-over) per line.
///
/// A stream whose consumer is full is left out of the poll until the consumer has room. A pipe is
/// read to its end (kubectl exited, or was stopped) and then closed, and its reader returns.
final class PipeReader: @unchecked Sendable {
    private final class Entry: @unchecked Sendable {
        let fd: Int32
        let output: LogOutput
        var paused = false
        var abandoned = false
        var done: CheckedContinuation<Void, Never>?
        init(fd: Int32, output: LogOutput) {
            self.fd = fd
            self.output = output
        }
    }

    private let lock = NSLock()
    private var entries: [Int32: Entry] = [:]
    /// Wakes the thread when the set of pipes changes (a pipe: its read end polled, its write
    /// end written).
    private let wake: (read: Int32, write: Int32)
    private let pacer: ReadPacer
    private var thread: Thread?
    private var stopping = false

    init(pacer: ReadPacer) {
        self.pacer = pacer
        // Without its wake-up pipe (no descriptor left) the thread looks every 100 ms instead.
        wake = (try? Self.makePipe(nonBlockingWrite: true)) ?? (-1, -1)
    }

    deinit {
        if wake.read >= 0 {
            close(wake.read)
            close(wake.write)
        }
    }

    /// A pipe for one kubectl: the read end (non-blocking, close-on-exec) for `read`, the write
    /// end (close-on-exec: only kubectl gets it, as its standard output) for kubectl.
    /// (swift-subprocess closes every other descriptor in the child, so a kubectl started at the
    /// same time cannot hold another's write end before close-on-exec is set.)
    static func makePipe(nonBlockingWrite: Bool = false) throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        if nonBlockingWrite { _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK) }
        return (fds[0], fds[1])
    }

    /// Reads `fd` to its end into `output`, then closes it. Cancelling the calling task stops
    /// the reading (what was not read yet is dropped: the stream resumes from its last line).
    func read(_ fd: Int32, into output: LogOutput) async {
        let entry = Entry(fd: fd, output: output)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let refused = lock.withLock { () -> Bool in
                    // Stopping (or stopped): no thread will read it.
                    if stopping { return true }
                    entry.done = c
                    entries[fd] = entry
                    if thread == nil {
                        let t = Thread { [self] in loop() }
                        t.name = "casewatch-kubectl-pipes"
                        thread = t
                        t.start()
                    }
                    return false
                }
                if refused {
                    close(fd)
                    c.resume()
                    return
                }
                signal()
            }
        } onCancel: {
            abandon(entry)
        }
    }

    private func abandon(_ entry: Entry) {
        lock.withLock { entry.abandoned = true }
        signal()
    }

    /// Ends the thread (the daemon stops); pipes still open are closed and their readers return.
    func stop() {
        lock.withLock { stopping = true }
        signal()
    }

    private func signal() {
        var one: UInt8 = 1
        _ = write(wake.write, &one, 1)
    }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            // Who to poll: every pipe not paused; the ones given up are finished here.
            var finished: [Entry] = []
            let (watched, stop) = lock.withLock { () -> ([Entry], Bool) in
                for (fd, e) in entries where e.abandoned || stopping {
                    entries[fd] = nil
                    finished.append(e)
                }
                return (entries.values.filter { !$0.paused }, stopping && entries.isEmpty)
            }
            for e in finished { finish(e) }
            if stop {
                lock.withLock { thread = nil }
                return
            }
            var fds = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            for e in watched { fds.append(pollfd(fd: e.fd, events: Int16(POLLIN), revents: 0)) }
            let n = poll(&fds, nfds_t(fds.count), wake.read < 0 ? 100 : -1)
            if n < 0 {
                if errno == EINTR { continue }
                Thread.sleep(forTimeInterval: 0.01)
                continue
            }
            if fds[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 256)
                while Foundation.read(wake.read, &drain, drain.count) > 0 {}
            }
            var readSomething = false
            for (i, e) in watched.enumerated() where fds[i + 1].revents != 0 {
                var ended = false
                // Up to 1 MiB per pipe per wake-up: one busy stream does not starve the others.
                var budget = 1 << 20
                while budget > 0 {
                    let got = buffer.withUnsafeMutableBytes { Foundation.read(e.fd, $0.baseAddress, $0.count) }
                    if got > 0 {
                        readSomething = true
                        budget -= got
                        if !e.output.take(Array(buffer[0..<got])) {
                            pause(e)
                            break
                        }
                        if got < buffer.count { break }
                    } else if got == 0 || (errno != EAGAIN && errno != EINTR) {
                        ended = true
                        break
                    } else if errno == EAGAIN {
                        break
                    }
                }
                if ended {
                    lock.withLock { entries[e.fd] = nil }
                    finish(e)
                }
            }
            if readSomething && pacer.read() { pacer.nap() }
        }
    }

    /// The consumer is full: leave the pipe out of the poll until it has room.
    private func pause(_ e: Entry) {
        lock.withLock { e.paused = true }
        Task {
            await e.output.room()
            self.lock.withLock { e.paused = false }
            self.signal()
        }
    }

    private func finish(_ e: Entry) {
        close(e.fd)
        let c = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            defer { e.done = nil }
            return e.done
        }
        c?.resume()
    }
}
