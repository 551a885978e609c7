import Foundation
import LogSources
import TestSupport
import Testing

/// The libsystemd wrapper against a real systemd-journald started by the test.
@Suite(.serialized) struct JournalTests {
    /// Moves `reader` to its first entry, waiting on the journal (sd_journal_wait) rather than
    /// sleeping; false when none came within 20 s.
    private func awaitEntry(_ reader: JournalReader) throws -> Bool {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if try reader.next() { return true }
            _ = try reader.wait(timeout: 1)
        }
        return false
    }

    @Test func writesStructuredEntriesAndReadsThemBack() throws {
        let journald = try Journald()
        defer { journald.stop() }
        let marker = UUID().uuidString
        try JournalWriter.send([
            ("MESSAGE", "casewatch test entry\nsecond line"), ("PRIORITY", "3"),
            ("CASEWATCH_TEST", marker), ("CASE_ID", "helm-no-deployed-releases"),
        ])
        let reader = try JournalReader()
        try reader.addMatch("CASEWATCH_TEST", marker)
        try reader.seekHead()
        #expect(try awaitEntry(reader), "the entry never reached the journal")
        #expect(try reader.field("MESSAGE") == "casewatch test entry\nsecond line")
        #expect(try reader.field("CASE_ID") == "helm-no-deployed-releases")
        #expect(try reader.field("PRIORITY") == "3")
        #expect(try reader.field("NO_SUCH_FIELD") == nil)
        #expect(try !reader.cursor().isEmpty)
    }

    @Test func readsWhatSystemdCatWrites() throws {
        let journald = try Journald()
        defer { journald.stop() }
        let tag = "casewatch-test-\(UInt32.random(in: 0...UInt32.max))"
        let r = try runCommand("/usr/bin/systemd-cat", ["-t", tag, "/bin/echo", "nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)"])
        #expect(r.status == 0, "\(r.stderr)")
        let reader = try JournalReader()
        try reader.addMatch("SYSLOG_IDENTIFIER", tag)
        try reader.seekHead()
        #expect(try awaitEntry(reader))
        #expect(try reader.field("MESSAGE") == "nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)")
    }

    @Test func errorsNameWhatFailed() {
        do {
            let reader = try JournalReader(directory: "/nonexistent/journal")
            _ = try reader.next()
            Issue.record("opened a missing directory")
        } catch {
            #expect(error.description.contains("/nonexistent/journal"))
            #expect(error.errno == ENOENT)
        }
    }
}
