import Foundation
import LogSources
import TestSupport
import Testing

/// `casewatch run` with webhook sinks, against a real HTTP receiver on 127.0.0.1 that the test
/// starts (TestSupport.HTTPReceiver), and the journald source of the test's own journald.
/// Backoffs are shortened by CASEWATCH_WEBHOOK_BACKOFF (first,max seconds) so a test waits
/// fractions of a second, not minutes.
@Suite struct WebhookEndToEndTests {
    static let fastBackoff = ["CASEWATCH_WEBHOOK_BACKOFF": "0.05,0.3"]

    /// The JSON alerts among the receiver's requests that were answered 2xx: the first
    /// `failed` requests were scripted to fail.
    static func accepted(_ requests: [HTTPReceiver.Request], failed: Int = 0) -> [[String: Any]] {
        requests.dropFirst(failed).compactMap(\.json)
    }

    static func number(_ alert: [String: Any]) -> Int {
        Int((alert["line"] as? String)?.split(separator: " ").last ?? "") ?? -1
    }

    @Test func oneCaseFromOnePodIsOneFiringThenOneResolvedWithTheCount() throws {
        let receiver = try HTTPReceiver()
        let h = try DaemonHarness()
        try h.addCase(id: "test-pod-failing", regex: "pod (?<namespace>[a-z]+)/(?<pod>[a-z0-9-]+) failed (?<n>[0-9]+)$", example: "pod blueking/web-1 failed 1")
        // A short dedup window (2 s) so the resolve comes within the test.
        try h.configure("""
            patterns: {builtin: false, dirs: [\(h.patternsDir)]}
            dedup: {window: 2s}
            context: {before: 2}
            sources:
              journald: {identifiers: [pods]}
            sinks:
              webhooks:
                - {name: hook, url: "\(receiver.url)/alerts", format: json}
            """)
        try h.start(environment: Self.fastBackoff)
        try h.journald.log(["starting web-1"] + (1...1000).map { "pod blueking/web-1 failed \($0)" }, identifier: "pods")
        var all = receiver.await(timeout: 60) { r in r.contains { $0.json?["state"] as? String == "resolved" } }.compactMap(\.json)
        #expect(all.count == 2, "one firing, one resolved: \(all.map { "\($0["state"] ?? "") \($0["count"] ?? "")" })")
        let firing = try #require(all.first)
        #expect(firing["state"] as? String == "firing" && firing["count"] as? Int == 1)
        #expect((firing["event_id"] as? String)?.hasSuffix("-firing-1") == true)
        // The alert book's whole alert (docs/ALERT-SCHEMA.md).
        #expect(firing["schema_version"] as? Int == 1 && firing["case_id"] as? String == "test-pod-failing")
        #expect((firing["origin"] as? [String: Any])?["kind"] as? String == "journald")
        #expect(firing["line"] as? String == "pod blueking/web-1 failed 1")
        #expect((firing["context"] as? [String]) == ["starting web-1"])
        #expect((firing["captures"] as? [String: String])?["pod"] == "web-1")
        for key in ["title", "diagnosis", "fix", "knowledge_base", "first_seen", "last_seen", "severity", "dedup_key"] {
            #expect(firing[key] != nil, "key \(key)")
        }
        let resolved = try #require(all.last)
        #expect(resolved["state"] as? String == "resolved" && resolved["count"] as? Int == 1000)
        #expect(resolved["alert_id"] as? String == firing["alert_id"] as? String)

        // Two pods, 500 hits each: two incidents, each one firing and one resolved.
        try h.journald.log((1...1000).map { "pod blueking/web-\($0 % 2 + 2) failed \($0)" }, identifier: "pods")
        all = receiver.await(timeout: 60) { r in r.filter { $0.json?["state"] as? String == "resolved" }.count >= 3 }.compactMap(\.json)
        let later = Array(all.dropFirst(2))
        #expect(later.count == 4, "\(later.map { "\($0["state"] ?? "") \($0["count"] ?? "")" })")
        for pod in ["web-2", "web-3"] {
            let mine = later.filter { ($0["captures"] as? [String: String])?["pod"] == pod }
            #expect(mine.map { $0["state"] as? String } == ["firing", "resolved"], "\(pod)")
            #expect(mine.last?["count"] as? Int == 500)
        }
        #expect(h.stop() == 0)
    }

    @Test func fiveHundredsFirstThenEveryAlertArrivesOnceInOrder() throws {
        let receiver = try HTTPReceiver()
        receiver.script(Array(repeating: .init(status: 500, body: "busy"), count: 20))
        let h = try DaemonHarness.everyLineAlerts(sinks: "  webhooks:\n    - {name: hook, url: \"\(receiver.url)/in\", format: json}")
        try h.start(environment: Self.fastBackoff)
        let total = 60
        try h.journald.log((1...total).map { "numbered line \($0)" }, identifier: "numbers")
        let requests = receiver.await(timeout: 60) { Self.accepted($0, failed: 20).count >= total }
        let accepted = Self.accepted(requests, failed: 20)
        let ids = accepted.compactMap { $0["event_id"] as? String }
        #expect(Set(ids).count == total, "every alert arrives")
        #expect(ids.count == Set(ids).count, "none twice among the accepted requests")
        #expect(accepted.map(Self.number) == Array(1...total), "in the order of the source")
        #expect(requests.prefix(20).allSatisfy { $0.json != nil }, "the refused tries were alerts too")
        #expect(h.stop() == 0)
    }

    /// The receiver is down while 500 distinct alerts are raised; the daemon is killed with
    /// SIGKILL in the middle and started again; when the receiver is back, all 500 arrive, each
    /// once. The outage is 5 s here instead of the issue's 2 minutes, to keep CI short: what is
    /// shown (the spool holds across a crash and drains once the receiver is back) does not
    /// depend on its length.
    @Test func anOutageAndASigkillLoseNothingAndSendNothingTwice() throws {
        let outage = 5.0  // shortened from 2 minutes for CI
        let receiver = try HTTPReceiver()
        try receiver.down()
        let h = try DaemonHarness.everyLineAlerts(sinks: "  journald: {}\n  webhooks:\n    - {name: hook, url: \"\(receiver.url)/in\", format: json}")
        try h.start(environment: Self.fastBackoff)
        let downSince = Date()
        try h.journald.log((1...250).map { "numbered line \($0)" }, identifier: "numbers")
        // The journald sink is written just before the webhook spool: once the journal has an
        // alert, the daemon is at that point; kill it there, mid-stream.
        _ = try h.awaitAlerts(count: 120) { $0["CASE_ID"] == "test-every-line" }
        h.kill()
        try h.start(environment: Self.fastBackoff)
        try h.journald.log((251...500).map { "numbered line \($0)" }, identifier: "numbers")
        _ = try h.awaitAlerts(count: 500, timeout: 120) { $0["CASE_ID"] == "test-every-line" }
        #expect(receiver.requests.isEmpty)
        let left = outage - Date().timeIntervalSince(downSince)
        if left > 0 { Thread.sleep(forTimeInterval: left) }  // the outage itself, not a synchronisation
        try receiver.up()
        let requests = receiver.await(timeout: 60) { $0.count >= 500 }
        let alerts = requests.compactMap(\.json)
        let numbers = alerts.map(Self.number)
        #expect(Set(numbers) == Set(1...500), "missing: \(Set(1...500).subtracting(numbers).sorted().prefix(20))")
        #expect(numbers.count == 500, "by content: none twice")
        #expect(Set(alerts.compactMap { $0["event_id"] as? String }).count == 500, "by event_id")
        // Nothing more comes once the spool is drained: a stop now leaves it empty.
        #expect(h.stop() == 0)
        #expect(receiver.requests.count == 500)
    }

    /// A 429 with Retry-After: 2 holds the next try back for those 2 seconds (the backoff alone
    /// would retry after 0.05-0.3 s).
    @Test func retryAfterIsHonoured() throws {
        let receiver = try HTTPReceiver()
        receiver.script([.init(status: 429, body: "slow down", headers: ["Retry-After": "2"])])
        let h = try DaemonHarness.everyLineAlerts(sinks: "  webhooks:\n    - {name: hook, url: \"\(receiver.url)/in\", format: json}")
        try h.start(environment: Self.fastBackoff)
        try h.journald.log(["numbered line 1"], identifier: "numbers")
        // The arrival times the receiver took (the poll below sees a request late, and by how
        // much varies with the machine's load).
        _ = receiver.await(timeout: 30) { $0.count >= 2 }
        let times = receiver.requests.map(\.received)
        try #require(times.count == 2)
        #expect(times[1].timeIntervalSince(times[0]) >= 1.8, "retried after \(times[1].timeIntervalSince(times[0])) s")
        #expect(receiver.requests.map(\.text) == [receiver.requests[0].text, receiver.requests[0].text], "the same alert again")
        #expect(h.stop() == 0)
    }

    /// A full spool drops the oldest alerts of the lowest severity (here all have one severity:
    /// the oldest), logs and counts each, and delivers the rest once the receiver is back.
    @Test func aFullSpoolDropsTheOldestAndSaysSo() throws {
        let receiver = try HTTPReceiver()
        try receiver.down()
        let h = try DaemonHarness.everyLineAlerts(sinks: "  webhooks:\n    - {name: hook, url: \"\(receiver.url)/in\", format: json}", extra: "spool: {max_bytes: 64KiB}")
        try h.start(environment: Self.fastBackoff)
        let total = 150
        try h.journald.log((1...total).map { "numbered line \($0)" }, identifier: "numbers")
        let log = { (try? String(contentsOfFile: h.daemon?.stderrPath ?? "", encoding: .utf8)) ?? "" }
        // Wait until the last line's alert is spooled: the queue file names its event, and the
        // evictions were logged before it was appended.
        let queue = h.stateDir + "/spool/hook/queue"
        let spooled = try WebhookDeliveryTests.poll(timeout: 60) { () -> Bool? in
            ((try? String(contentsOfFile: queue, encoding: .utf8)) ?? "").contains("numbered line \(total)\"") ? true : nil
        }
        try #require(spooled == true)
        let dropped = log().components(separatedBy: "Spool full, dropped").count - 1
        #expect(dropped > 0 && dropped < total, "dropped \(dropped)")
        try receiver.up()
        let alerts = receiver.await(timeout: 60) { $0.count >= total - dropped }.compactMap(\.json)
        // The oldest went, except the one the sender has in hand (a request waiting for the
        // receiver): the rest arrive, in order.
        let got = alerts.map(Self.number)
        #expect(got == got.sorted() && got.count == total - dropped && got.last == total, "\(got)")
        #expect(Set(got).isSuperset(of: (dropped + 2)...total), "\(got)")
        #expect(h.stop() == 0)
    }

    /// SIGTERM while the receiver is down and a request waits for it: a clean exit at once (the
    /// request is cancelled, not waited for), and the alert goes at the next start.
    @Test func aStopWhileTheReceiverIsDownKeepsTheAlertForTheNextStart() throws {
        let receiver = try HTTPReceiver()
        try receiver.down()
        let h = try DaemonHarness.everyLineAlerts(sinks: "  webhooks:\n    - {name: hook, url: \"\(receiver.url)/in\", format: json, timeout: 30s}")
        try h.start(environment: Self.fastBackoff)
        try h.journald.log(["numbered line 1"], identifier: "numbers")
        let queue = h.stateDir + "/spool/hook/queue"
        let spooled = try WebhookDeliveryTests.poll(timeout: 30) { () -> Bool? in
            ((try? String(contentsOfFile: queue, encoding: .utf8)) ?? "").contains("numbered line 1") ? true : nil
        }
        try #require(spooled == true)
        let asked = Date()
        #expect(h.stop() == 0)
        #expect(Date().timeIntervalSince(asked) < 15, "not held for the request's 30 s timeout")
        try receiver.up()
        try h.start(environment: Self.fastBackoff)
        let got = receiver.await(timeout: 30) { !$0.isEmpty }.compactMap(\.json)
        #expect(got.map(Self.number) == [1])
        #expect(h.stop() == 0)
        #expect(receiver.requests.count == 1, "once")
    }
}
