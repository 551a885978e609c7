import CaseCatalog
import Foundation
import TestSupport
import Testing

@testable import LogSources

/// One record as the source delivered it.
struct DeliveredRecord: Sendable {
    var message: String
    var origin: Origin
    var time: Double
    var end: RecordPosition
    var truncatedAt: Int?
    var priority: Int8 = -1
    var bootID: BootID?
}

/// Runs a `JournalSource` on a thread of its own, as the daemon does, and keeps what it delivers
/// and reports; the test waits on a condition, never on a timer.
final class SourceRunner: @unchecked Sendable {
    let source: JournalSource
    private let condition = NSCondition()
    private var records: [DeliveredRecord] = []
    private var batchEnds: [String] = []
    private var events: [JournalSourceEvent] = []
    private var finished = false
    private var failure: Error?
    /// Stop the source once this many records were delivered.
    private let stopAfter: Int?
    /// Time `deliver` takes per batch (back-pressure), seconds.
    private let deliverDelay: Double

    init(
        _ options: JournalSourceOptions, start: JournalStart, stopAfter: Int? = nil, deliverDelay: Double = 0,
        inside journald: IsolatedJournald? = nil
    ) {
        source = JournalSource(options: options)
        self.stopAfter = stopAfter
        self.deliverDelay = deliverDelay
        let body: @Sendable () -> Void = { [self] in
            do {
                try source.run(start: start, deliver: { [self] batch in deliver(batch) }, report: { [self] event in
                    condition.lock()
                    events.append(event)
                    condition.broadcast()
                    condition.unlock()
                })
            } catch {
                condition.lock()
                failure = error
                condition.unlock()
            }
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        if let journald {
            Thread {
                _ = try? journald.withinNamespace { body() }
            }.start()
        } else {
            Thread { body() }.start()
        }
    }

    private func deliver(_ batch: RecordBatch) {
        var got: [DeliveredRecord] = []
        let bytes = batch.bytes
        for segment in batch.segments {
            var text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[segment.range]), as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            got.append(DeliveredRecord(
                message: text, origin: segment.origin, time: segment.time, end: segment.end, truncatedAt: segment.truncatedAt,
                priority: segment.priority, bootID: segment.bootID))
        }
        if deliverDelay > 0 { Thread.sleep(forTimeInterval: deliverDelay) }  // a slow pipeline, on purpose
        condition.lock()
        records += got
        if case .journal(let cursor) = batch.segments.last?.end { batchEnds.append(cursor) }
        let stop = stopAfter.map { records.count >= $0 } ?? false
        condition.broadcast()
        condition.unlock()
        if stop { source.stop() }
    }

    var delivered: [DeliveredRecord] {
        condition.lock()
        defer { condition.unlock() }
        return records
    }

    var messages: [String] { delivered.map(\.message) }

    var reported: [JournalSourceEvent] {
        condition.lock()
        defer { condition.unlock() }
        return events
    }

    /// What a daemon would log as a problem: every event but starting, catching up and file changes.
    var problems: [JournalSourceEvent] {
        reported.filter {
            switch $0 {
            case .started, .caughtUp, .filesChanged: false
            default: true
            }
        }
    }

    /// The cursor of the last delivered batch: what the daemon saves.
    var lastCursor: String? {
        condition.lock()
        defer { condition.unlock() }
        return batchEnds.last
    }

    /// Waits until `predicate` holds over the records (or the run ended); false after `timeout`.
    @discardableResult
    func wait(timeout: Double = 30, until predicate: ([DeliveredRecord]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(records) {
            if finished || !condition.wait(until: deadline) { return predicate(records) }
        }
        return true
    }

    /// Waits until an event matching `predicate` was reported.
    @discardableResult
    func waitForEvent(timeout: Double = 30, _ predicate: (JournalSourceEvent) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !events.contains(where: predicate) {
            if finished || !condition.wait(until: deadline) { return events.contains(where: predicate) }
        }
        return true
    }

    /// Waits for `run` to return; false after `timeout`. Rethrows what `run` threw.
    @discardableResult
    func join(timeout: Double = 30) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !finished {
            if !condition.wait(until: deadline) { return false }
        }
        if let failure { throw failure }
        return true
    }

    /// Stops the source and waits for `run` to return.
    func stop() throws {
        source.stop()
        #expect(try join(), "run did not return after stop()")
    }

    /// Waits until the source has opened the journal and positioned itself.
    func waitStarted(timeout: Double = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while source.state == .starting && Date() < deadline {
            condition.lock()
            _ = condition.wait(until: min(deadline, Date().addingTimeInterval(0.01)))
            condition.unlock()
        }
        return source.state != .starting
    }
}

/// Numbered lines `line 1` ... for order and completeness checks.
func numbered(_ range: ClosedRange<Int>, prefix: String = "line") -> [String] {
    range.map { "\(prefix) \($0)" }
}

/// The numbers of `line N` messages, in delivery order.
func numbers(_ messages: [String], prefix: String = "line") -> [Int] {
    messages.compactMap { m in m.hasPrefix(prefix + " ") ? Int(m.dropFirst(prefix.count + 1)) : nil }
}

/// The journal source against a real systemd-journald in a private mount namespace, read
/// in-process through the namespace's journal directory (`/proc/<pid>/root/run/log/journal/...`).
/// Each test starts its own journald, so they run in parallel.
struct JournalSourceTests {
    private func options(_ journald: IsolatedJournald, identifiers: [String] = ["kubelet"], batchLimit: Int = 1000) -> JournalSourceOptions {
        JournalSourceOptions(identifiers: identifiers, directory: journald.journalDirectory, batchLimit: batchLimit, quietAfter: 0.5)
    }

    /// The entries' own fields, as journalctl shows them.
    private func journalEntries(_ journald: IsolatedJournald, _ filter: [String]) throws -> [[String: Any]] {
        try jsonObjects(journald.journalctl(["-o", "json", "--no-pager"] + filter))
    }

    @Test func deliversEachEntryWithItsOriginTimeAndCursor() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        let before = Date().timeIntervalSince1970
        let klog = #"E1130 04:14:12.345678    1234 kubelet.go:2034] "Error syncing pod, skipping" err="failed to \"StartContainer\"""#
        try journald.log([klog, "second entry"], identifier: "kubelet")
        // A multi-line and a binary MESSAGE, written natively (sd_journal_sendv) from inside.
        try journald.withinNamespace {
            try JournalWriter.send([("MESSAGE", "first line\nsecond line"), ("SYSLOG_IDENTIFIER", "kubelet")])
            try JournalWriter.send([("MESSAGE", "nul\u{0}byte \u{1B}[31mred\u{1B}[0m"), ("SYSLOG_IDENTIFIER", "kubelet")])
        }
        try journald.sync()
        // All four are in the journal before reading starts, so they come in one batch.
        let fields = try journalEntries(journald, ["SYSLOG_IDENTIFIER=kubelet"])
        try #require(fields.count == 4)
        let runner = SourceRunner(options(journald), start: .head)
        defer { try? runner.stop() }
        #expect(runner.wait { $0.count >= 4 })
        #expect(runner.waitForEvent { if case .caughtUp = $0 { true } else { false } })
        let after = Date().timeIntervalSince1970
        let got = runner.delivered
        #expect(got.map(\.message) == [klog, "second entry", "first line\nsecond line", "nul\u{0}byte \u{1B}[31mred\u{1B}[0m"])
        var name = [UInt8](repeating: 0, count: 256)
        gethostname(&name, name.count)
        let hostname = String(decoding: name.prefix { $0 != 0 }, as: UTF8.self)
        for (record, entry) in zip(got, fields) {
            let unit = entry["_SYSTEMD_UNIT"] as? String
            #expect(record.origin == Origin(kind: .journald, name: unit ?? "kubelet", host: hostname, unit: unit, identifier: "kubelet"))
            let usec = Double(entry["__REALTIME_TIMESTAMP"] as? String ?? "") ?? 0
            #expect(record.time == usec / 1_000_000)
            #expect(record.time >= before - 1 && record.time <= after + 1)
            #expect(record.priority == Int8(entry["PRIORITY"] as? String ?? "") ?? -1, "the entry's PRIORITY")
            #expect(record.bootID?.description == entry["_BOOT_ID"] as? String, "the entry's boot id")
        }
        // Positions are per batch: the last record carries the cursor of its entry.
        #expect(got.dropLast().allSatisfy { $0.end == .none })
        #expect(got.last?.end == .journal(cursor: fields.last?["__CURSOR"] as? String ?? "?"))
    }

    @Test func filtersByIdentifierAndPriorityAndNeverReadsCasewatchAlerts() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        // The whole journal, or kubelet and casewatch by name: casewatch's alerts never come back.
        for identifiers in [[], ["kubelet", "casewatch"]] {
            let tag = "round-\(identifiers.count)"
            let runner = SourceRunner(options(journald, identifiers: identifiers), start: .now)
            defer { try? runner.stop() }
            #expect(runner.waitStarted())
            try journald.log(["\(tag) info"], identifier: "kubelet", priority: "info")
            try journald.log(["\(tag) debug"], identifier: "kubelet", priority: "debug")
            try journald.log(["\(tag) error"], identifier: "kubelet", priority: "err")
            try journald.log(["\(tag) own log line"], identifier: "casewatch", priority: "err")
            try journald.withinNamespace {
                // No PRIORITY: passes the priority filter.
                try JournalWriter.send([("MESSAGE", "\(tag) no priority"), ("SYSLOG_IDENTIFIER", "kubelet")])
                // An alert, even under another identifier, is casewatch's own.
                try JournalWriter.send([("MESSAGE", "\(tag) alert"), ("SYSLOG_IDENTIFIER", "kubelet"), ("ALERT_EVENT_ID", "x-firing-1")])
            }
            try journald.sync()
            try journald.log(["\(tag) other"], identifier: "other")
            try journald.log(["\(tag) end"], identifier: "kubelet")
            #expect(runner.wait { $0.contains { $0.message == "\(tag) end" } })
            let expected = ["\(tag) info", "\(tag) error", "\(tag) no priority"] + (identifiers.isEmpty ? ["\(tag) other"] : []) + ["\(tag) end"]
            #expect(runner.messages.filter { $0.hasPrefix(tag) } == expected)
            #expect(runner.source.statistics.ownEntries == 2)
            #expect(runner.source.statistics.belowPriority == 1)
        }
    }

    /// Through the namespace's journal directory, and (`local`) from a thread inside the
    /// namespace with `directory` nil: `sd_journal_open(LOCAL_ONLY | SYSTEM)`, the daemon's way.
    @Test(arguments: [false, true]) func startsAtNowWithOnlyNewEntries(local: Bool) throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        try journald.log(["old kubelet"], identifier: "kubelet")
        try journald.log(["old other"], identifier: "other")
        var options = options(journald)
        if local { options.directory = nil }
        let runner = SourceRunner(options, start: .now, inside: local ? journald : nil)
        defer { try? runner.stop() }
        #expect(runner.waitStarted())
        try journald.log(["new kubelet"], identifier: "kubelet")
        #expect(runner.wait { $0.count >= 1 })
        #expect(runner.messages == ["new kubelet"])
    }

    /// Writes `line 1` ... `line <lines>`, reads the first `count` from the head in batches of
    /// `batchLimit` and stops: the records read and the cursor a daemon would have saved. All
    /// lines are in the journal before reading starts, so the batches are full.
    private func readPart(_ journald: IsolatedJournald, lines: Int, count: Int, batchLimit: Int) throws -> (SourceRunner, String) {
        try journald.log(numbered(1...lines), identifier: "kubelet")
        let runner = SourceRunner(options(journald, batchLimit: batchLimit), start: .head, stopAfter: count)
        #expect(try runner.join())
        #expect(runner.delivered.count == count)
        return (runner, try #require(runner.lastCursor))
    }

    @Test func resumesAfterItsCursorWithNothingLostOrRepeated() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        let (first, cursor) = try readPart(journald, lines: 1000, count: 400, batchLimit: 100)
        let second = SourceRunner(options(journald, batchLimit: 100), start: .after(cursor: cursor))
        defer { try? second.stop() }
        #expect(second.wait { first.delivered.count + $0.count >= 1000 })
        #expect(numbers(first.messages + second.messages) == Array(1...1000))
        #expect(second.problems.isEmpty, "\(second.reported)")
    }

    @Test func vanishedCursorIsReportedOnceAndReadingGoesOnAfterIt() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        // The cursor of line 50, as a daemon would have saved it.
        let (early, cursor) = try readPart(journald, lines: 100, count: 50, batchLimit: 50)
        #expect(early.delivered.last?.message == "line 50")
        try journald.journalctl(["--rotate"])
        try journald.log(numbered(101...200), identifier: "kubelet")
        try journald.journalctl(["--rotate"])
        // Keep the active file and the newest archive (101...200): 1...100 are gone.
        try journald.journalctl(["--vacuum-files=2"])
        #expect(try !journald.journalctl(["-o", "cat", "-t", "kubelet"]).contains("line 100\n"))

        let runner = SourceRunner(options(journald), start: .after(cursor: cursor))
        defer { try? runner.stop() }
        #expect(runner.wait { $0.count >= 100 })
        try journald.log(numbered(201...210), identifier: "kubelet")
        #expect(runner.wait { $0.count >= 110 })
        #expect(numbers(runner.messages) == Array(101...210))
        let vanished = runner.reported.filter { if case .cursorVanished(let c) = $0 { c == cursor } else { false } }
        #expect(vanished.count == 1, "\(runner.reported)")
    }

    @Test func rotationAndVacuumWhileReadingLoseNothingStillInTheJournal() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        // A slow pipeline, so the reader lags behind the rotations and vacuums.
        let runner = SourceRunner(options(journald, batchLimit: 50), start: .head, deliverDelay: 0.005)
        defer { try? runner.stop() }
        #expect(runner.waitStarted())
        for round in 0..<6 {
            try journald.log(numbered(round * 200 + 1...round * 200 + 200), identifier: "kubelet")
            try journald.journalctl(["--rotate"])
            if round % 2 == 1 { try journald.journalctl(["--vacuum-files=2"]) }
        }
        try journald.log(["line 1201"], identifier: "kubelet")
        #expect(runner.wait(timeout: 60) { $0.last?.message == "line 1201" })
        let delivered = numbers(runner.messages)
        let kept = numbers(try journald.journalctl(["-o", "cat", "-t", "kubelet"]).split(separator: "\n").map(String.init))
        #expect(Set(kept).isSubset(of: Set(delivered)), "lost: \(Set(kept).subtracting(delivered).sorted())")
        #expect(delivered == delivered.sorted() && Set(delivered).count == delivered.count, "out of order or repeated")
        #expect(kept.count < 1201, "the vacuums removed nothing: the test proves less than it says")
    }

    @Test func journaldRestartWhileReadingLosesNothingWrittenAfter() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        let runner = SourceRunner(options(journald, batchLimit: 20), start: .head, deliverDelay: 0.005)
        defer { try? runner.stop() }
        #expect(runner.waitStarted())
        try journald.log(numbered(1...300), identifier: "kubelet")
        #expect(runner.wait { $0.count >= 20 })
        try journald.restart(signal: SIGKILL)
        try journald.log(numbered(301...600), identifier: "kubelet")
        try journald.restart(signal: SIGTERM)
        try journald.log(numbered(601...700), identifier: "kubelet")
        #expect(runner.wait(timeout: 60) { $0.last?.message == "line 700" })
        let delivered = numbers(runner.messages)
        #expect(Set(301...700).isSubset(of: Set(delivered)), "lost: \(Set(301...700).subtracting(delivered).sorted())")
        #expect(Set(delivered).count == delivered.count, "repeated")
        // On tmpfs nothing journald had written dies with it, so nothing at all is lost.
        #expect(delivered == Array(1...700))
    }

    @Test func stopReturnsPromptlyWhileIdleAndTheQuietJournalWakesNothing() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        try journald.log(["one"], identifier: "kubelet")
        let runner = SourceRunner(options(journald), start: .head)
        #expect(runner.wait { $0.count == 1 })
        // Quiet for 0.5 s: the source blocks on the journal's fd with no timeout.
        let deadline = Date().addingTimeInterval(10)
        while runner.source.state != .waiting && Date() < deadline { _ = runner.wait(timeout: 0.05) { _ in false } }
        #expect(runner.source.state == .waiting)
        let progress = runner.source.progress
        _ = runner.wait(timeout: 1) { _ in false }
        #expect(runner.source.progress == progress, "woke up while the journal was quiet")
        let began = Date()
        try runner.stop()
        #expect(Date().timeIntervalSince(began) < 0.5)
        #expect(runner.source.state == .stopped)
    }

    @Test func noJournalFilesIsAReadErrorThenStopStillWorks() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runner = SourceRunner(JournalSourceOptions(directory: dir.path), start: .now)
        #expect(runner.waitForEvent { if case .readError(let e) = $0 { e.errno == ENOENT } else { false } })
        #expect(runner.source.state == .retrying)
        let began = Date()
        try runner.stop()
        #expect(Date().timeIntervalSince(began) < 0.5)
        #expect(runner.problems.count == 1, "\(runner.reported)")
    }

    @Test func aLongMessageIsCutAtTheCapAndSaysSoEvenWhenCompressed() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        // journald compresses fields over 512 bytes: these three are stored compressed.
        let short = String(repeating: "s", count: 900)
        let long = (0..<500).map { "word\($0)" }.joined(separator: " ")
        let multiline = (0..<200).map { "line \($0)" }.joined(separator: "\n")
        try journald.withinNamespace {
            for m in [short, long, multiline] { try JournalWriter.send([("MESSAGE", m), ("SYSLOG_IDENTIFIER", "kubelet")]) }
        }
        try journald.sync()
        var options = options(journald)
        options.maxMessageBytes = 1000
        let runner = SourceRunner(options, start: .head)
        defer { try? runner.stop() }
        #expect(runner.wait { $0.count >= 3 })
        let got = runner.delivered
        #expect(got[0].message == short && got[0].truncatedAt == nil)
        #expect(got[1].message == String(long.utf8.prefix(1000))! && got[1].truncatedAt == 1000)
        #expect(got[2].message == String(multiline.utf8.prefix(1000))! && got[2].truncatedAt == 1000)

        // Past sd-journal's default data threshold (64 KiB): whole up to the cap, cut beyond.
        let big = (0..<9000).map { "w\($0)" }.joined(separator: " ")  // ~80 KB
        let huge = big + " " + big  // ~160 KB
        try journald.withinNamespace {
            for m in [big, huge] { try JournalWriter.send([("MESSAGE", m), ("SYSLOG_IDENTIFIER", "big")]) }
        }
        try journald.sync()
        options.identifiers = ["big"]
        options.maxMessageBytes = 100_000
        let large = SourceRunner(options, start: .head)
        defer { try? large.stop() }
        #expect(large.wait { $0.count >= 2 })
        #expect(large.delivered[0].message == big && large.delivered[0].truncatedAt == nil)
        #expect(large.delivered[1].message == String(huge.utf8.prefix(100_000))! && large.delivered[1].truncatedAt == 100_000)
    }

    @Test func synchronizeReturnsOnceJournaldHasWrittenWhatItReceived() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        try journald.withinNamespace {
            for i in 1...200 { try JournalWriter.send([("MESSAGE", "line \(i)"), ("SYSLOG_IDENTIFIER", "sync-test")]) }
            try JournalWriter.synchronize()
        }
        // Read at once from outside, with no wait: all of them are in the files.
        let reader = try JournalReader(directory: journald.journalDirectory)
        try reader.addMatch("SYSLOG_IDENTIFIER", "sync-test")
        var messages: [String] = []
        while try reader.next() { messages.append(try reader.field("MESSAGE") ?? "") }
        #expect(numbers(messages) == Array(1...200))
    }

    @Test func cursorsParse() {
        let c = JournalCursor("s=04b819a3ecaa45ad9e68846579d20be1;i=3;b=87a1686221774e3a935f6dbdcb12d4cb;m=4f51c97f;t=66176efed9c4e;x=565c9588b590b995")
        #expect(c?.seqnum == 3)
        #expect(c?.realtime == 0x66176efed9c4e)
        #expect(c?.bootID == "87a1686221774e3a935f6dbdcb12d4cb")
        #expect(JournalCursor("s=1;i=zz") == nil)
    }
}
