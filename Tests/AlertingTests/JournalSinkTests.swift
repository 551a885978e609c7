@testable import Alerting
import CaseCatalog
import Foundation
import TestSupport
import Testing

/// An alert of a pod's crash loop, with captures and fix commands to fill.
func crashLoopAlert(
    state: Alert.State = .firing, count: Int = 1, sequence: Int = 1, firstSeen: Double = 1_796_000_000,
    origin: Origin = Origin(
        kind: .kubectl, name: "blueking/bk-web-1/web", host: "node-1.example", namespace: "blueking", pod: "bk-web-1",
        container: "web", node: "node-1")
) -> Alert {
    let c = Case(
        id: "test-pod-crashloop", title: Localized(en: "Pod restarts in a crash loop", zh: "Pod 反复崩溃重启"), severity: .error,
        source: .init(seed: "001.txt", heading: "h"), symptoms: [Symptom(id: "back-off", regex: "Back-off")],
        diagnosis: Localized(en: "Container {container} of {pod} keeps exiting.", zh: "{pod} 的容器 {container} 不断退出。"),
        fix: .init(
            text: Localized(en: "Read the previous log of {pod}. Then fix its configuration.", zh: "查看 {pod} 上一次的日志。再修正配置。"),
            commands: ["kubectl -n {namespace} logs {pod} -c {container} --previous", "kubectl -n {namespace} describe pod {pod}"]))
    return Alert(
        knownCase: c, origin: origin,
        evidence: Evidence(symptomID: "back-off", lineNumber: 7, line: "Back-off restarting failed container web in pod bk-web-1_blueking"),
        captures: [Capture(name: "container", value: "web"), Capture(name: "exit-code", value: "137")],
        time: firstSeen + 5, state: state, count: count, firstSeen: firstSeen, lastSeen: firstSeen + 5, sequence: sequence)
}

/// The journald sink against a real systemd-journald in a private mount namespace: the alert is
/// written from a thread inside the namespace (sd_journal_sendv) and read back with journalctl.
struct JournalSinkTests {
    @Test func writesEveryFieldThatJournalctlShows() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        let alert = crashLoopAlert()
        try journald.withinNamespace { try JournalSink(language: .en).write(alert) }
        try journald.sync()
        let entries = try jsonObjects(journald.journalctl(["-o", "json", "--no-pager", "CASE_ID=test-pod-crashloop"]))
        let entry = try #require(entries.count == 1 ? entries[0] : nil, "\(entries.count) entries")
        let expected = JournalSink.fields(alert, language: .en)
        for (name, value) in expected {
            #expect(entry[name] as? String == value, "\(name)")
        }
        let names = Set(expected.map(\.name))
        for name in [
            "MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER", "CASE_ID", "CASE_SEVERITY", "CASE_TITLE", "CASE_TITLE_ZH",
            "SOURCE_KIND", "K8S_NAMESPACE", "K8S_POD", "K8S_CONTAINER", "MATCHED_LINE", "CAPTURE_CONTAINER", "CAPTURE_EXIT_CODE",
            "FIX", "ALERT_ID", "ALERT_EVENT_ID", "ALERT_COUNT", "ALERT_STATE",
        ] {
            #expect(names.contains(name), "\(name) is not written")
        }
        #expect(entry["PRIORITY"] as? String == "3")
        #expect(entry["SYSLOG_IDENTIFIER"] as? String == "casewatch")
        #expect(entry["MESSAGE_ID"] as? String == JournalSink.messageID(caseID: "test-pod-crashloop"))
        #expect(entry["CASE_TITLE_ZH"] as? String == "Pod 反复崩溃重启")
        #expect(entry["K8S_POD"] as? String == "bk-web-1")
        #expect(entry["K8S_NODE"] as? String == "node-1")
        #expect(entry["SOURCE_UNIT"] == nil && entry["SOURCE_FILE"] == nil)
        #expect(entry["ALERT_EVENT_ID"] as? String == alert.eventID)
        #expect(entry["ALERT_STATE"] as? String == "firing")
        #expect(entry["MESSAGE"] as? String
            == "test-pod-crashloop: Pod restarts in a crash loop, namespace blueking, pod bk-web-1, container web, node node-1, host node-1.example. Fix: Read the previous log of bk-web-1.")
        #expect(entry["FIX"] as? String == """
            Read the previous log of bk-web-1. Then fix its configuration.
            $ kubectl -n blueking logs bk-web-1 -c web --previous
            $ kubectl -n blueking describe pod bk-web-1
            """)
        #expect(entry["CASE_DIAGNOSIS"] as? String == "Container web of bk-web-1 keeps exiting.")
    }

    @Test func aJournalOriginBecomesSourceFieldsAndChineseReadsChinese() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        let alert = crashLoopAlert(origin: Origin(kind: .journald, name: "kubelet.service", host: "vm", unit: "kubelet.service", identifier: "kubelet"))
        try journald.withinNamespace { try JournalSink(language: .zh).write(alert) }
        try journald.sync()
        let entry = try #require(try jsonObjects(journald.journalctl(["-o", "json", "CASE_ID=test-pod-crashloop"])).first)
        #expect(entry["SOURCE_KIND"] as? String == "journald")
        #expect(entry["SOURCE_UNIT"] as? String == "kubelet.service")
        #expect(entry["SOURCE_IDENTIFIER"] as? String == "kubelet")
        #expect(entry["SOURCE_HOST"] as? String == "vm")
        #expect(entry["K8S_POD"] == nil)
        #expect(entry["MESSAGE"] as? String == "test-pod-crashloop：Pod 反复崩溃重启，unit kubelet.service, 主机 vm。处理：查看 <pod> 上一次的日志。")
    }

    @Test func eventIDsWrittenAfterACursorAreReadBack() throws {
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        let sink = JournalSink(language: .en)
        let before = crashLoopAlert(firstSeen: 1_796_000_000)
        try journald.withinNamespace { try sink.write(before) }
        // The source's saved position: a kubelet entry after the first alert.
        try journald.log(["checkpoint"], identifier: "kubelet")
        let cursor = try #require(try jsonObjects(journald.journalctl(["-o", "json", "-t", "kubelet"])).last?["__CURSOR"] as? String)
        let firing = crashLoopAlert(firstSeen: 1_796_000_100)
        let reminder = crashLoopAlert(count: 5, sequence: 2, firstSeen: 1_796_000_100)
        let resolved = crashLoopAlert(state: .resolved, count: 5, sequence: 3, firstSeen: 1_796_000_100)
        try journald.withinNamespace {
            for alert in [firing, reminder, resolved] { try sink.write(alert) }
        }
        let after = Set([firing.eventID, reminder.eventID, resolved.eventID])
        // Local journal from inside (journald is asked to write everything out first).
        let local = try journald.withinNamespace { try JournalSink.eventIDsWritten(after: cursor, since: nil, directory: nil) }
        #expect(local == after)
        // The same files read from outside.
        #expect(try JournalSink.eventIDsWritten(after: cursor, since: nil, directory: journald.journalDirectory) == after)
        // Everything, and from a time before both (the earlier of cursor and since wins).
        let all = after.union([before.eventID])
        #expect(try JournalSink.eventIDsWritten(after: nil, since: nil, directory: journald.journalDirectory) == all)
        #expect(try JournalSink.eventIDsWritten(after: cursor, since: 0, directory: journald.journalDirectory) == all)
        #expect(try JournalSink.eventIDsWritten(after: "not a cursor", since: nil, directory: journald.journalDirectory) == all)
    }

    @Test func messageIDIsTheDocumentedHashOfTheCaseID() throws {
        for id in ["pod-crashloop-backoff", "helm-release-timeout", "x"] {
            let shell = try runCommand("/bin/sh", ["-c", "printf 'casewatch:%s' \"$1\" | sha256sum | cut -c1-32", "sh", id])
            #expect(JournalSink.messageID(caseID: id) == shell.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let catalog = try Catalog.load(directories: [Paths.patterns])
        let ids = Set(catalog.cases.map { JournalSink.messageID(caseID: $0.id) })
        #expect(ids.count == catalog.cases.count, "two cases share a MESSAGE_ID")
        #expect(ids.allSatisfy { $0.count == 32 && $0.allSatisfy { "0123456789abcdef".contains($0) } })
    }

    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256KnownAnswers(input: String, digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
    }

    @Test func sha256AgreesWithSha256sumAcrossBlockBoundaries() throws {
        for length in [55, 56, 63, 64, 65, 119, 120, 1000] {
            let input = String(repeating: "é", count: length / 2) + String(repeating: "a", count: length % 2)
            let shell = try runCommand("/usr/bin/sha256sum", [], input: Data(input.utf8))
            #expect(SHA256.hex(Array(input.utf8)) == String(shell.stdout.prefix(64)), "\(input.utf8.count) bytes")
        }
    }

    @Test func captureNamesBecomeJournalFieldNames() {
        #expect(JournalSink.captureField("release") == "CAPTURE_RELEASE")
        #expect(JournalSink.captureField("exit-code") == "CAPTURE_EXIT_CODE")
        #expect(JournalSink.captureField("pod.name2") == "CAPTURE_POD_NAME2")
        #expect(JournalSink.captureField(String(repeating: "a", count: 80)).count == 64)
    }

    @Test func theMessageQuotesTheFixsFirstSentenceAcrossWrappedLines() {
        #expect(JournalSink.firstSentence("Find the pods that are not ready, then read\nthe log. Then more.\n") == "Find the pods that are not ready, then read the log.")
        #expect(JournalSink.firstSentence("One line\n\nsecond paragraph. x") == "One line")
        #expect(JournalSink.firstSentence("先查看日志。再重启。") == "先查看日志。")
        #expect(JournalSink.firstSentence(String(repeating: "a", count: 300)).count == 240)
    }

    @Test func remindersAndResolvesSayHowOften() {
        let reminder = JournalSink.message(crashLoopAlert(count: 4, sequence: 2), language: .en)
        #expect(reminder.contains("4 times since 2026-") && reminder.contains("Fix: Read the previous log of bk-web-1."))
        let resolved = JournalSink.fields(crashLoopAlert(state: .resolved, count: 4, sequence: 3), language: .zh)
        #expect(resolved.first { $0.name == "MESSAGE" }?.value.hasPrefix("test-pod-crashloop 已恢复：Pod 反复崩溃重启") == true)
        #expect(resolved.first { $0.name == "PRIORITY" }?.value == "6", "a resolve is good news")
    }
}
