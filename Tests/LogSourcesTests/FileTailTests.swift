import Foundation
import TestSupport
import Testing

@testable import LogSources

/// Runs a `FileTail` on its own thread and keeps what it hands over: the lines per followed
/// path, the positions (as the daemon's hub keeps them: the last segment's end of each batch,
/// and what `record` says), and the events.
final class TailRun: @unchecked Sendable {
    let tail: FileTail
    private let lock = NSLock()
    private var lines: [(path: String, line: String, number: Int)] = []
    private(set) var positions: [String: RecordPosition] = [:]
    private var events: [FileTailEvent] = []
    private let done = DispatchSemaphore(value: 0)
    private(set) var error: Error?

    init(_ options: FileTailOptions, saved: [String: RecordPosition] = [:], startedBefore: Bool = false) {
        tail = FileTail(options: options)
        positions = saved
        let snapshot = saved
        let thread = Thread { [self] in
            do {
                try tail.run(
                    saved: { snapshot[$0] },
                    startedBefore: { _ in startedBefore },
                    handlers: FileTail.Handlers(
                        deliver: { batch, path in
                            let records = batch.records
                            self.lock.withLock {
                                for r in records { self.lines.append((path, String(decoding: r.line, as: UTF8.self), r.lineNumber)) }
                                if let end = batch.segments.last?.end, end != .none { self.positions[path] = end }
                            }
                        },
                        record: { path, p in self.lock.withLock { self.positions[path] = p } },
                        forget: { path in self.lock.withLock { self.positions[path] = nil } },
                        report: { e in self.lock.withLock { self.events.append(e) } }))
            } catch {
                self.error = error
            }
            done.signal()
        }
        thread.start()
    }

    func stop() -> [String: RecordPosition] {
        tail.stop()
        done.wait()
        return lock.withLock { positions }
    }

    var texts: [String] { lock.withLock { lines.map(\.line) } }
    func texts(of path: String) -> [String] { lock.withLock { lines.filter { $0.path == path }.map(\.line) } }
    var numbered: [(String, Int)] { lock.withLock { lines.map { ($0.line, $0.number) } } }
    var eventLog: [FileTailEvent] { lock.withLock { events } }

    /// Waits (polling with a deadline: the tail's thread has no event to await) until `condition`.
    @discardableResult
    func await(timeout: Double = 10, _ condition: (TailRun) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(self) { return true }
            usleep(10_000)
        }
        return condition(self)
    }

    var started: Bool { eventLog.contains { if case .started = $0 { true } else { false } } }
}

@Suite final class FileTailTests {
    let dir = Paths.temporaryDirectory("casewatch-tail")
    deinit { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func append(_ name: String, _ text: String) throws {
        let fd = open(path(name), O_WRONLY | O_APPEND | O_CREAT, 0o644)
        #expect(fd >= 0)
        defer { close(fd) }
        _ = text.withCString { write(fd, $0, strlen($0)) }
    }

    func numbered(_ range: ClosedRange<Int>) -> String { range.map { "line \($0)\n" }.joined() }

    func options(_ pattern: String, start: FileTailOptions.Entry.Start = .beginning, exclude: [String] = []) -> FileTailOptions {
        FileTailOptions(entries: [.init(path: path(pattern), exclude: exclude, start: start)], partialLineWait: 0.3, rotateWait: 1, retryDelay: 0.1)
    }

    @Test func startEndReadsOnlyWhatComesAfterAndStartBeginningEverything() throws {
        try append("a.log", numbered(1...3))
        let end = TailRun(options("a.log", start: .end))
        #expect(end.await { $0.started })
        try append("a.log", numbered(4...5))
        #expect(end.await { $0.texts.count == 2 })
        #expect(end.texts == ["line 4", "line 5"])
        #expect(end.numbered.map(\.1) == [4, 5], "lines before the start are counted")
        _ = end.stop()
        let all = TailRun(options("a.log", start: .beginning))
        #expect(all.await { $0.texts.count == 5 })
        _ = all.stop()
    }

    /// logrotate's default: rename, create a new file; the writer keeps writing to the old file
    /// until it reopens. The old file's rest comes first, then the new file, each line once.
    @Test func renameRotationReadsTheOldFileToItsEndFirst() throws {
        try append("app.log", numbered(1...10))
        let run = TailRun(options("app.log"))
        #expect(run.await { $0.texts.count == 10 })
        try FileManager.default.moveItem(atPath: path("app.log"), toPath: path("app.log.1"))
        try append("app.log.1", numbered(11...20))  // the writer has not reopened yet
        try append("app.log", "")
        try append("app.log", numbered(21...30))
        #expect(run.await { $0.texts.count >= 30 })
        #expect(run.texts == (1...30).map { "line \($0)" })
        let positions = run.stop()
        guard case .file(_, _, let offset, _, let lines)? = positions[path("app.log")] else {
            Issue.record("no position")
            return
        }
        #expect(offset == UInt64(numbered(21...30).utf8.count) && lines == 10, "the position is the new file's")
    }

    /// copytruncate: logrotate copies, then truncates. What was not read before the copy is read
    /// from the copy; then the file again from 0.
    @Test func copytruncateReadsTheRestFromTheCopyThenTheFileFromZero() throws {
        try append("c.log", numbered(1...5))
        let run = TailRun(options("c.log"))
        #expect(run.await { $0.texts.count == 5 })
        // Lines 6-9 are written, copied and truncated before the tail looks again: only the
        // copy holds them. The tail sees one wake-up for all of it.
        let text = numbered(6...9)
        let copy = numbered(1...9)
        try Data(copy.utf8).write(to: URL(fileURLWithPath: path("c.log.1")))
        try append("c.log", text)
        truncate(path("c.log"), 0)
        try append("c.log", "new 1\nnew 2\n")
        #expect(run.await { $0.texts.count >= 11 })
        #expect(run.texts == (1...9).map { "line \($0)" } + ["new 1", "new 2"])
        _ = run.stop()
    }

    @Test func aPartialLineWaitsForItsNewlineThenIsScannedAsItIs() throws {
        try append("p.log", "")
        let run = TailRun(options("p.log"))
        #expect(run.await { $0.started })
        try append("p.log", "half a ")
        try append("p.log", "line\nno newline yet")
        #expect(run.await { $0.texts.count == 1 })
        #expect(run.texts == ["half a line"])
        // The last one waits the partial-line wait (0.3 s), then goes as it is.
        #expect(run.await(timeout: 5) { $0.texts.count == 2 })
        #expect(run.texts.last == "no newline yet")
        try append("p.log", "\nnext\n")
        #expect(run.await { $0.texts.count == 4 })
        #expect(run.texts.suffix(2) == ["", "next"], "what follows a flushed partial line starts a new one")
        _ = run.stop()
    }

    @Test func aLongLineIsCappedAndTheNextOneIsWhole() throws {
        var o = options("long.log")
        o.maxLineLength = 100
        o.chunkSize = 64
        try append("long.log", "short\n" + String(repeating: "x", count: 1000) + "\nafter\n")
        let run = TailRun(o)
        #expect(run.await { $0.texts.count == 3 })
        #expect(run.texts == ["short", String(repeating: "x", count: 100), "after"])
        #expect(run.numbered.map(\.1) == [1, 2, 3])
        _ = run.stop()
    }

    /// A glob over a directory that does not exist yet: inotify watches its parent until it
    /// appears; files created are followed from their start, deleted ones released.
    @Test func globsPickUpDirectoriesAndFilesThatAppearAndReleaseThoseThatGo() throws {
        let run = TailRun(FileTailOptions(
            entries: [.init(path: path("later/*/logs/*.log"), exclude: ["skip*"], start: .end)], partialLineWait: 0.3, rotateWait: 0.3))
        #expect(run.await { $0.started })
        try FileManager.default.createDirectory(atPath: path("later/svc/logs"), withIntermediateDirectories: true)
        try append("later/svc/logs/one.log", "one 1\n")
        try append("later/svc/logs/skip.log", "never\n")
        try append("later/svc/logs/one.txt", "never\n")
        #expect(run.await { $0.texts.contains("one 1") })
        try append("later/svc/logs/two.log", "two 1\n")
        #expect(run.await { $0.texts.contains("two 1") })
        try FileManager.default.removeItem(atPath: path("later/svc/logs/one.log"))
        #expect(run.await {
            $0.eventLog.contains { if case .released(let p) = $0 { p.hasSuffix("one.log") } else { false } }
        })
        try append("later/svc/logs/one.log", "one again\n")
        try append("later/svc/logs/two.log", "two 2\n")
        #expect(run.await { $0.texts.count == 4 })
        #expect(Set(run.texts) == ["one 1", "two 1", "one again", "two 2"])
        let positions = run.stop()
        #expect(positions.keys.sorted() == [path("later/svc/logs/one.log"), path("later/svc/logs/two.log")])
    }

    /// A deleted file whose inode the next file gets: the fingerprint tells them apart, so the
    /// new file is read from 0, not from the old file's offset.
    @Test func inodeReuseAfterDeleteIsANewFile() throws {
        try append("r.log", numbered(1...50))
        let first = TailRun(options("r.log"))
        #expect(first.await { $0.texts.count == 50 })
        let saved = first.stop()
        var st = stat()
        stat(path("r.log"), &st)
        let inode = st.st_ino
        // While casewatch is down: delete, and write a new file until it gets the same inode.
        // Other tests create files at the same time and may take the freed inode: when the file
        // system does not hand it back, the same identity with new content is made by rewriting
        // the file in place (what the fingerprint must tell apart is the same either way).
        var reused = false
        for i in 0..<1000 {
            try FileManager.default.removeItem(atPath: path("r.log"))
            try append("r.log", "fresh \(i)\n" + numbered(1000...1100))
            stat(path("r.log"), &st)
            if st.st_ino == inode { reused = true; break }
        }
        if !reused {
            // The same identity (device, inode) with new first bytes, made deterministically:
            // a file followed, then rewritten in place while casewatch is down.
            try append("q.log", numbered(1...50))
            let q1 = TailRun(options("q.log"))
            #expect(q1.await { $0.texts.count == 50 })
            let qSaved = q1.stop()
            let fd = open(path("q.log"), O_WRONLY | O_TRUNC)
            let fresh = "fresh 0\n" + numbered(1000...1100)
            _ = fresh.withCString { Foundation.write(fd, $0, strlen($0)) }
            close(fd)
            let q2 = TailRun(options("q.log"), saved: qSaved)
            #expect(q2.await { $0.texts.count == 102 })
            #expect(q2.texts.first?.hasPrefix("fresh") == true && q2.texts.last == "line 1100")
            _ = q2.stop()
            return
        }
        let second = TailRun(options("r.log"), saved: saved)
        #expect(second.await { $0.texts.count == 102 })
        #expect(second.texts.first?.hasPrefix("fresh") == true && second.texts.last == "line 1100")
        _ = second.stop()
    }

    /// Rotated while casewatch was down: the rest of the old file from its rotated name (same
    /// inode), then the new file from 0; a `.gz` copy of a file already read is not read again,
    /// one never seen is.
    @Test func restartAfterRotationReadsTheRestFromTheRotatedFile() throws {
        try append("s.log", numbered(1...10))
        let first = TailRun(options("s.log"))
        #expect(first.await { $0.texts.count == 10 })
        let saved = first.stop()
        try append("s.log", numbered(11...15))
        try FileManager.default.moveItem(atPath: path("s.log"), toPath: path("s.log.1"))
        try append("s.log", numbered(16...20))
        let second = TailRun(options("s.log"), saved: saved)
        #expect(second.await { $0.texts.count >= 10 })
        #expect(second.texts == (11...20).map { "line \($0)" })
        let saved2 = second.stop()
        // Rotated and compressed while down (the old file only exists as .gz now).
        try append("s.log", numbered(21...25))
        try FileManager.default.removeItem(atPath: path("s.log.1"))
        try FileManager.default.moveItem(atPath: path("s.log"), toPath: path("s.log.1"))
        #expect(try runCommand("/usr/bin/gzip", [path("s.log.1")]).status == 0)
        try append("s.log", numbered(26...30))
        let third = TailRun(options("s.log"), saved: saved2)
        #expect(third.await { $0.texts.count >= 10 })
        #expect(third.texts == (21...30).map { "line \($0)" })
        _ = third.stop()
    }

    /// Restarted after two rotations, between the last one's rename and its create (the path
    /// is missing): the rest of the saved file, the generation never read, then the file
    /// created at the path afterwards from its start (a saved position means `start: end` no
    /// longer applies), each line once.
    @Test func restartWhileThePathIsMissingReadsEveryGenerationAndTheNextFileFromZero() throws {
        try append("m.log", numbered(1...5))
        let first = TailRun(options("m.log", start: .end))
        #expect(first.await { $0.started })
        let saved = first.stop()
        try append("m.log", numbered(6...10))
        try FileManager.default.moveItem(atPath: path("m.log"), toPath: path("m.log.1"))
        try append("m.log", numbered(11...20))
        try FileManager.default.moveItem(atPath: path("m.log"), toPath: path("m.log.2"))
        // Written 1 s apart: writes a few ms apart can share one mtime (the kernel clock ticks).
        let t = Date()
        try FileManager.default.setAttributes([.modificationDate: t.addingTimeInterval(-2)], ofItemAtPath: path("m.log.1"))
        try FileManager.default.setAttributes([.modificationDate: t.addingTimeInterval(-1)], ofItemAtPath: path("m.log.2"))
        let second = TailRun(options("m.log", start: .end), saved: saved)
        #expect(second.await { $0.started })
        try append("m.log", numbered(21...30))
        #expect(second.await { $0.texts.count >= 25 })
        #expect(second.texts == (6...30).map { "line \($0)" })
        _ = second.stop()
    }

    /// A file that appeared while casewatch was down, under an entry followed before (no
    /// position of its own): read from its start, not from its end as at the first start.
    @Test func aFileThatAppearedWhileDownIsReadFromItsStartDespiteStartEnd() throws {
        try append("d1.log", numbered(1...3))
        let first = TailRun(options("d*.log", start: .end))
        #expect(first.await { $0.started })
        let saved = first.stop()
        try append("d2.log", numbered(4...6))
        let second = TailRun(options("d*.log", start: .end), saved: saved, startedBefore: true)
        #expect(second.await { $0.texts.count >= 3 })
        #expect(second.texts == (4...6).map { "line \($0)" })
        _ = second.stop()
        // Without the mark (a first start), `start: end` applies to it.
        try append("d3.log", numbered(7...8))
        let fresh = TailRun(options("d3.log", start: .end))
        #expect(fresh.await { $0.started })
        try append("d3.log", numbered(9...9))
        #expect(fresh.await { $0.texts.count >= 1 })
        #expect(fresh.texts == ["line 9"])
        _ = fresh.stop()
    }

    @Test func aGlobNamingGzipFilesReadsOnlyThoseNeverSeenUncompressed() throws {
        try append("g.log", numbered(1...5))
        let run = TailRun(options("g.log*", start: .beginning))
        #expect(run.await { $0.texts.count == 5 })
        // Rotated and compressed after it was read: not again.
        try FileManager.default.moveItem(atPath: path("g.log"), toPath: path("g.log.1"))
        try append("g.log", numbered(6...7))
        #expect(run.await { $0.texts.count == 7 })
        _ = try runCommand("/usr/bin/gzip", [path("g.log.1")])
        // A compressed file of lines never seen: read once.
        try Data("other 1\nother 2\n".utf8).write(to: URL(fileURLWithPath: path("g.log.other")))
        _ = try runCommand("/usr/bin/gzip", [path("g.log.other")])
        #expect(run.await { $0.texts.count == 9 })
        try append("g.log", numbered(8...8))
        #expect(run.await { $0.texts.count == 10 })
        #expect(run.texts.sorted() == ((1...8).map { "line \($0)" } + ["other 1", "other 2"]).sorted())
        _ = run.stop()
    }

    @Test func openFilesStayWithinTheLimit() throws {
        var o = options("m*.log")
        o.maxOpen = 3
        for i in 1...8 { try append("m\(i).log", "m\(i) first\n") }
        let run = TailRun(o)
        #expect(run.await(timeout: 20) { $0.texts.count == 8 })
        #expect(run.tail.openFiles <= 3)
        for i in 1...8 { try append("m\(i).log", "m\(i) second\n") }
        #expect(run.await(timeout: 20) { $0.texts.count == 16 })
        #expect(run.tail.openFiles <= 3)
        #expect(Set(run.texts).count == 16)
        _ = run.stop()
    }

    /// Positions saved before the fingerprint existed still decode.
    @Test func aPositionOfAnEarlierVersionDecodes() throws {
        let old = #"{"file":{"device":1,"inode":2,"offset":3}}"#
        let p = try JSONDecoder().decode(RecordPosition.self, from: Data(old.utf8))
        #expect(p == .file(device: 1, inode: 2, offset: 3))
        let now = RecordPosition.file(device: 1, inode: 2, offset: 3, fingerprint: FileFingerprint(length: 4, hash: 5), lines: 6)
        #expect(try JSONDecoder().decode(RecordPosition.self, from: JSONEncoder().encode(now)) == now)
    }
}
