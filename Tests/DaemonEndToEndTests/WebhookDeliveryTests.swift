import Foundation
import LogSources
import TestSupport
import Testing

/// The alertmanager format against a real Alertmanager (Debian's prometheus-alertmanager, started
/// here on 127.0.0.1 with a configuration of the test's own); a chat robot's error bodies and
/// rate limit; and that no secret leaks.
@Suite struct WebhookDeliveryTests {
    static let alertmanagerBinary = "/usr/bin/prometheus-alertmanager"

    /// GET over HTTP as JSON.
    static func getJSON(_ url: String) throws -> Any? {
        let (status, body) = try MetricsEndToEndTests.get(url)
        guard status == 200 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(body.utf8))
    }

    /// Polls `body` (an observable condition, no event to wait on: Alertmanager's API) until it
    /// returns a value or `timeout` passes.
    static func poll<T>(timeout: Double, _ body: () throws -> T?) rethrows -> T? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let v = try body() { return v }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return try body()
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: alertmanagerBinary) || Paths.isCI))
    func aRealAlertmanagerListsTheAlertWithItsLabelsThenSeesItResolved() throws {
        let dir = Paths.temporaryDirectory("casewatch-am")
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
            route: {receiver: "null", group_wait: 1s, group_interval: 1s}
            receivers: [{name: "null"}]
            """.write(to: dir.appendingPathComponent("am.yml"), atomically: true, encoding: .utf8)
        let port = try MetricsEndToEndTests.freePort()
        let am = try SpawnedProcess(
            executable: Self.alertmanagerBinary,
            arguments: [
                "--config.file=\(dir.appendingPathComponent("am.yml").path)", "--storage.path=\(dir.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=",
            ],
            environment: nil, directory: dir)
        defer {
            am.signal(SIGKILL)
            am.wait()
        }
        let base = "http://127.0.0.1:\(port)"
        let ready = Self.poll(timeout: 30) { (try? MetricsEndToEndTests.get("\(base)/-/ready"))?.0 == 200 ? true : nil }
        try #require(ready == true, "Alertmanager did not become ready: \(am.stderr.suffix(2000))")

        let h = try DaemonHarness()
        try h.addCase(id: "test-pod-failing", regex: "pod (?<namespace>[a-z]+)/(?<pod>[a-z0-9-]+) failed", example: "pod blueking/web-1 failed")
        try h.configure("""
            patterns: {builtin: false, dirs: [\(h.patternsDir)]}
            dedup: {window: 3s}
            sources:
              journald: {identifiers: [pods]}
            sinks:
              webhooks:
                - {name: am, url: "\(base)", format: alertmanager, heartbeat: 1s, resend: 1s}
            """)
        try h.start(environment: WebhookEndToEndTests.fastBackoff)
        try h.journald.log(["pod blueking/web-1 failed"], identifier: "pods")

        func alerts() throws -> [[String: Any]] { (try Self.getJSON("\(base)/api/v2/alerts") as? [[String: Any]]) ?? [] }
        func named(_ name: String) throws -> [String: Any]? {
            try alerts().first { ($0["labels"] as? [String: String])?["alertname"] == name }
        }
        let alert = try #require(try Self.poll(timeout: 30) { try named("test-pod-failing") }, "daemon: \(h.daemon?.stderr.suffix(2000) ?? "")")
        let labels = try #require(alert["labels"] as? [String: String])
        #expect(labels["severity"] == "warning" || labels["severity"] == "error" || labels["severity"] == "critical" || labels["severity"] == "info")
        #expect(labels["namespace"] == "blueking" && labels["pod"] == "web-1")
        #expect(labels["instance"]?.isEmpty == false)
        let annotations = try #require(alert["annotations"] as? [String: String])
        for key in ["summary", "description", "fix", "runbook_url"] { #expect(annotations[key]?.isEmpty == false, "annotation \(key)") }
        #expect((alert["status"] as? [String: Any])?["state"] as? String == "active")
        // The dead-man's switch is there too, always firing.
        #expect(try Self.poll(timeout: 10) { try named("casewatch-heartbeat") } != nil)

        // After the quiet window the resolve notice (endsAt) makes Alertmanager drop it from the
        // active alerts, while the heartbeat stays.
        let gone = try Self.poll(timeout: 30) { try named("test-pod-failing") == nil ? true : nil }
        #expect(gone == true, "still active after the resolve")
        #expect(try named("casewatch-heartbeat") != nil)
        #expect(h.stop() == 0)
    }

    /// A DingTalk robot (signed URL) that answers HTTP 200 with errcode 130101 ("send too fast")
    /// twice, then ok; and a rate limit of 3 messages in 4 s: every alert still arrives, the
    /// refused one again later, the held-back ones merged into summaries.
    @Test func aChatRobotsErrorBodyAndRateLimitHoldAlertsBackButLoseNone() throws {
        let receiver = try HTTPReceiver()
        let tooFast = HTTPReceiver.Answer(status: 200, body: "{\"errcode\":130101,\"errmsg\":\"send too fast, exceed 20 times per minute\"}")
        receiver.script([tooFast, tooFast])
        let h = try DaemonHarness.everyLineAlerts(sinks: """
              webhooks:
                - {name: ding, url: "\(receiver.url)/robot/send?access_token=AccessT0ken", format: dingtalk, secret: SECsigning1, rate_limit: 3/4s, language: zh}
            """)
        try h.start(environment: WebhookEndToEndTests.fastBackoff)
        let total = 8
        try h.journald.log((1...total).map { "numbered line \($0)" }, identifier: "numbers")
        let eventID = try NSRegularExpression(pattern: "[0-9a-f]{16}-firing-1")
        func ids(_ r: HTTPReceiver.Request) -> Set<String> {
            let t = r.text
            return Set(eventID.matches(in: t, range: NSRange(t.startIndex..., in: t)).map { String(t[Range($0.range, in: t)!]) })
        }
        let requests = receiver.await(timeout: 60) { rs in rs.dropFirst(2).reduce(into: Set<String>()) { $0.formUnion(ids($1)) }.count >= total }
        let accepted = requests.dropFirst(2)
        let delivered = accepted.reduce(into: Set<String>()) { $0.formUnion(ids($1)) }
        #expect(delivered.count == total, "every alert arrives: \(delivered.count)")
        #expect(ids(requests[0]).isSubset(of: delivered), "the refused message comes again")
        #expect(accepted.contains { $0.text.contains("合并") }, "held-back alerts merged into a summary")
        #expect(accepted.count < total, "fewer messages than alerts: \(accepted.count)")
        for r in requests {
            let q = URLComponents(string: "http://x" + r.uri)?.queryItems ?? []
            #expect(q.contains { $0.name == "timestamp" } && q.contains { $0.name == "sign" }, "signed: \(r.uri)")
            #expect(r.json?["msgtype"] as? String == "markdown")
        }
        #expect(h.stop() == 0)
    }

    /// Secrets of the configuration never reach the log, the metrics or the dead-letter file; the
    /// secrets in log lines never reach a receiver.
    @Test func noSecretLeaks() throws {
        let good = try HTTPReceiver()
        let refusing = try HTTPReceiver()
        refusing.defaultAnswer = .init(status: 403, body: "{\"errcode\":310000,\"errmsg\":\"keywords not in content\"}")
        let metricsPort = try MetricsEndToEndTests.freePort()
        let configSecrets = ["UrlPassw0rd", "QueryTok3nValue", "HeaderSecr3tValue", "BkHeaderS3cretValue", "SECdingS3cretValue", "DingAcc3ssValue"]
        let h = try DaemonHarness()
        try h.addCase(id: "test-secret-line", regex: "SECRETCASE (?<what>.*)$", example: "SECRETCASE x")
        try h.configure("""
            patterns: {builtin: false, dirs: [\(h.patternsDir)]}
            dedup: {enabled: false}
            context: {before: 3}
            sources:
              journald: {identifiers: [app]}
            sinks:
              webhooks:
                - name: plain
                  url: "http://hookuser:UrlPassw0rd@127.0.0.1:\(good.port)/in?token=QueryTok3nValue"
                  format: json
                  headers: {Authorization: "Bearer HeaderSecr3tValue", X-Bkapi-Authorization: '{"bk_app_secret": "BkHeaderS3cretValue"}'}
                - {name: ding, url: "http://127.0.0.1:\(refusing.port)/robot/send?access_token=DingAcc3ssValue", format: dingtalk, secret: SECdingS3cretValue}
            metrics: {listen: "127.0.0.1:\(metricsPort)"}
            """)
        try h.start(environment: WebhookEndToEndTests.fastBackoff.merging(["CASEWATCH_LOG": "debug"]) { $1 })
        let lineSecrets = WebhookLineSecrets.all
        try h.journald.log(lineSecrets.map { "context \($0.line)" } + lineSecrets.map { "SECRETCASE \($0.line)" }, identifier: "app")
        let received = good.await(timeout: 60) { $0.count >= lineSecrets.count }
        #expect(received.count == lineSecrets.count)
        #expect(received.first?.headers["authorization"] == "Bearer HeaderSecr3tValue", "the configured header is sent")
        let deadLetter = h.stateDir + "/spool/ding/dead-letter"
        let dead = try #require(try WebhookDeliveryTests.poll(timeout: 60) { () -> String? in
            let t = (try? String(contentsOfFile: deadLetter, encoding: .utf8)) ?? ""
            return t.split(separator: "\n").count >= lineSecrets.count ? t : nil
        })
        #expect(dead.contains("310000"), "the refusal's answer is kept")
        // The counters move just after the receiver answers: read them once they have.
        func scrape() throws -> String { try MetricsEndToEndTests.get("http://127.0.0.1:\(metricsPort)/metrics").1 }
        let metrics = try Self.poll(timeout: 10) { () -> String? in
            let m = try scrape()
            let depths = m.split(separator: "\n").filter { $0.hasPrefix("casewatch_webhook_spool_depth{") }
            return !depths.isEmpty && depths.allSatisfy { Double($0.split(separator: " ").last ?? "") == 0 } ? m : nil
        } ?? (try scrape())
        func sample(_ name: String, _ sink: String, _ format: String, _ extra: String = "") -> Double? {
            metrics.split(separator: "\n").first { line in
                line.hasPrefix(name + "{") && line.contains("sink=\"\(sink)\"") && line.contains("format=\"\(format)\"") && (extra.isEmpty || line.contains(extra))
            }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        let webhookLines = metrics.split(separator: "\n").filter { $0.contains("webhook") }
        #expect(sample("casewatch_webhook_dead_letters_total", "ding", "dingtalk") == Double(lineSecrets.count), "\(webhookLines)")
        #expect(sample("casewatch_webhook_deliveries_total", "plain", "json", "outcome=\"delivered\"") == Double(lineSecrets.count), "\(webhookLines)")
        #expect(sample("casewatch_webhook_spool_depth", "ding", "dingtalk") == 0, "\(webhookLines)")
        #expect(sample("casewatch_webhook_rate_limited_total", "ding", "dingtalk") != nil, "declared: \(webhookLines)")
        let logPath = try #require(h.daemon?.stderrPath)
        #expect(h.stop() == 0)
        let log = try String(contentsOfFile: logPath, encoding: .utf8)
        for s in configSecrets {
            #expect(!log.contains(s), "log holds \(s)")
            #expect(!metrics.contains(s), "metrics hold \(s)")
            #expect(!dead.contains(s), "dead letter holds \(s)")
        }
        #expect(log.contains("refused an alert for good"), "the refusal is logged")
        for r in received + refusing.requests {
            for s in lineSecrets { #expect(!r.text.contains(s.secret), "\(s.secret) reached a receiver") }
        }
        #expect(received.allSatisfy { $0.text.contains("***") })
    }
}

/// Log lines with each kind of credential, and the secret in each.
enum WebhookLineSecrets {
    static let all: [(line: String, secret: String)] = [
        ("curl https://admin:S3cr3tPwd@bk.example.com/api", "S3cr3tPwd"),
        ("login failed password=Hunter2xyz user=admin", "Hunter2xyz"),
        ("GET /api?token=tok9f8e7d6c5b&next=1", "tok9f8e7d6c5b"),
        ("config secret: verysecretvalue1", "verysecretvalue1"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", "eyJhbGciOiJIUzI1NiJ9"),
        ("X-Bkapi-Authorization: {\"bk_app_code\": \"bk_cmdb\", \"bk_app_secret\": \"a1b2c3d4e5f6\"}", "a1b2c3d4e5f6"),
        ("payload {\"bk_app_secret\":\"zz9988776655\"}", "zz9988776655"),
        ("cookie bk_token=tkn4455667788; path=/", "tkn4455667788"),
    ]
}
