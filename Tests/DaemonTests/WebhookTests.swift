import Alerting
import CaseCatalog
@testable import Daemon
import Foundation
import TestSupport
import Testing

/// The webhook pieces one by one: configuration, spool, redaction, each format's body against the
/// platform's documented shape and size limit, signatures against an independent HMAC (openssl).
@Suite struct WebhookTests {
    // MARK: - Configuration

    @Test func webhooksSpoolAndRedactAreRead() throws {
        let c = try DaemonConfiguration.parse("""
            sinks:
              webhooks:
                - name: ops
                  url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123-def
                  format: wecom
                  min_severity: error
                  exclude_cases: [noisy]
                  rate_limit: 10/1m
                  language: zh
                - {name: am, url: "http://127.0.0.1:9093", format: alertmanager, heartbeat: 1m, resend: 30s, headers: {Authorization: Bearer xyz}}
                - {name: ding, url: "https://oapi.dingtalk.com/robot/send?access_token=t", format: dingtalk, secret: SEC123, redact: false}
            spool: {max_bytes: 1MiB}
            redact:
              rules:
                - {regex: "card=[0-9]+", replace: "card=***"}
            """, path: "c.yaml")
        #expect(c.sinks.webhooks.map(\.name) == ["ops", "am", "ding"])
        #expect(c.sinks.names == ["ops", "am", "ding"])
        let ops = c.sinks.webhooks[0]
        #expect(ops.format == .wecom && ops.minSeverity == .error && ops.excludeCases == ["noisy"] && ops.language == .zh)
        #expect(ops.effectiveRateLimits == [.init(messages: 10, per: 60)])
        #expect(c.sinks.webhooks[1].heartbeat == 60 && c.sinks.webhooks[1].resend == 30 && c.sinks.webhooks[1].headers["Authorization"] == "Bearer xyz")
        #expect(c.sinks.webhooks[1].effectiveRateLimits.isEmpty, "alertmanager has no rate limit by default")
        #expect(c.sinks.webhooks[2].secret == "SEC123" && c.sinks.webhooks[2].redact == false)
        #expect(c.sinks.webhooks[2].effectiveRateLimits == [.init(messages: 20, per: 60)], "DingTalk's documented 20 a minute")
        #expect(c.spool.maxBytes == 1 << 20)
        #expect(c.redact.rules.count == 1)
    }

    @Test(arguments: [
        ("sinks:\n  webhooks:\n    - {name: a, url: \"http://x\", format: teams}\n", 3, "sinks.webhooks[0].format"),
        ("sinks:\n  webhooks:\n    - {name: a, url: \"ftp://x\"}\n", 3, "sinks.webhooks[0].url"),
        ("sinks:\n  webhooks:\n    - {url: \"http://x\"}\n", 3, "sinks.webhooks[0].name"),
        ("sinks:\n  webhooks:\n    - {name: a, url: \"http://x\", colour: red}\n", 3, "sinks.webhooks[0].colour"),
        ("sinks:\n  webhooks:\n    - {name: a, url: \"http://x\", rate_limit: lots}\n", 3, "sinks.webhooks[0].rate_limit"),
        ("sinks:\n  webhooks:\n    - {name: a, url: \"http://x\", format: json, heartbeat: 1m}\n", 3, "sinks.webhooks[0].heartbeat"),
        ("sinks:\n  webhooks:\n    - {name: a, url: \"http://x\"}\n    - {name: a, url: \"http://y\"}\n", 4, "sinks.webhooks[1].name"),
        ("spool: {max_bytes: tiny}\n", 1, "spool.max_bytes"),
        ("redact:\n  rules:\n    - {regex: \"(unclosed\"}\n", 3, "redact.rules[0].regex"),
    ])
    func badWebhookSettingsNameFileLineAndKey(_ text: String, _ line: Int, _ key: String) {
        do {
            _ = try DaemonConfiguration.parse(text, path: "bad.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.errors.contains { $0.line == line && $0.key == key }, "\(error)")
            #expect(!error.description.contains("http://x"), "never quotes a URL")
        }
    }

    @Test func validateWarnsAboutASecretReadableByOthers() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("c.yaml").path
        try "sinks:\n  webhooks:\n    - {name: d, url: \"https://oapi.dingtalk.com/robot/send?access_token=t\", format: dingtalk, secret: SECabc}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        #expect(try DaemonConfiguration.load(path).warnings.contains { $0.contains("other users can read it") })
        chmod(path, 0o640)
        #expect(try DaemonConfiguration.load(path).warnings.isEmpty)
    }

    // MARK: - Spool

    @Test func theSpoolSurvivesAReopenDropsRepeatsAndEvictsTheOldestLowestSeverityFirst() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let record = Data(String(repeating: "x", count: 900).utf8)
        do {
            let s = try WebhookSpool(directory: dir.path, maxBytes: 64 << 10)
            for i in 1...5 { try s.append(eventID: "e\(i)", alertID: "a\(i)", rank: i == 2 ? 0 : 2, at: 0, record: record) }
            #expect(try s.append(eventID: "e3", alertID: "a3", rank: 2, at: 0, record: record).added == false, "a repeat of a pending id")
            try s.finish(["e1"], .sent)
        }
        // A crash mid-append leaves a cut line: dropped at the next start.
        let q = try FileHandle(forWritingTo: dir.appendingPathComponent("queue"))
        q.seekToEndOfFile()
        q.write(Data("{\"seq\":9,\"event_id\":\"cut".utf8))
        try q.close()
        let s = try WebhookSpool(directory: dir.path, maxBytes: 4000)  // four entries of 968 bytes
        #expect(s.first(10).map(\.eventID) == ["e2", "e3", "e4", "e5"])
        #expect(try s.append(eventID: "e1", alertID: "a1", rank: 2, at: 0, record: record).added == false, "sent already")
        // Full: the info entry (e2) goes first, then the oldest of the rest.
        let (added, evicted) = try s.append(eventID: "e6", alertID: "a6", rank: 3, at: 0, record: record)
        #expect(added)
        #expect(evicted.map(\.eventID) == ["e2"])
        let more = try s.append(eventID: "e7", alertID: "a7", rank: 2, at: 0, record: record)
        #expect(more.evicted.map(\.eventID) == ["e3"])
        #expect(s.first(10).map(\.eventID) == ["e4", "e5", "e6", "e7"])
    }

    // MARK: - Redaction

    static let secretLines = [
        ("curl https://admin:S3cr3tPw@bk.example.com/api", "S3cr3tPw"),
        ("login failed password=Hunter2xyz user=admin", "Hunter2xyz"),
        ("request token=tok_9f8e7d6c5b&next=1", "tok_9f8e7d6c5b"),
        ("config secret: verysecretvalue1", "verysecretvalue1"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", "eyJhbGciOiJIUzI1NiJ9"),
        ("X-Bkapi-Authorization: {\"bk_app_code\": \"bk_cmdb\", \"bk_app_secret\": \"a1b2c3d4e5f6\"}", "a1b2c3d4e5f6"),
        ("{\"bk_app_secret\":\"zz9988776655\",\"bk_token\":\"tkn4455667788\"}", "zz9988776655"),
        ("cookie bk_token=tkn4455667788; path=/", "tkn4455667788"),
        ("headers={'Authorization': 'Basic YWRtaW46cGFzcw=='}", "YWRtaW46cGFzcw=="),
    ]

    @Test(arguments: secretLines)
    func credentialsAreMasked(_ line: String, _ secret: String) {
        let out = Redactor().redact(line)
        #expect(!out.contains(secret), "\(out)")
        #expect(out.contains("***"))
    }

    @Test func operatorRulesAddToTheBuiltInOnes() {
        let r = Redactor(extra: [.init(regex: "card=[0-9]+", replace: "card=<hidden>")])
        #expect(r.redact("card=4111111111111111 password=x1y2z3") == "card=<hidden> password=***")
        #expect(Redactor().redact("an ordinary line: pod web-1 failed") == "an ordinary line: pod web-1 failed")
    }

    // MARK: - Formats

    static let journaldOrigin: [String: String] = ["kind": "journald", "host": "node-1", "namespace": "blueking", "pod": "web-1", "node": "node-1"]

    static func document(
        line: String = "pod blueking/web-1 failed", commands: [String] = ["kubectl -n blueking describe pod web-1", "kubectl -n blueking logs web-1 --previous"],
        state: String = "firing", origin: [String: String] = journaldOrigin, captures: [String: String] = ["pod": "web-1"]
    ) throws -> (AlertDocument, Data) {
        let object: [String: Any] = [
            "schema_version": 1, "case_id": "pod-crashloop-backoff", "severity": "error",
            "title": ["en": "Pod keeps crashing", "zh": "Pod 反复崩溃"], "state": state, "count": 3,
            "first_seen": "2026-11-30T04:14:12.345Z", "last_seen": "2026-11-30T04:15:12.345Z", "time": "2026-11-30T04:14:12.345Z",
            "dedup_key": "pod-crashloop-backoff pod:blueking/web-1", "alert_id": "a3a4aa1007df6c1b", "event_id": "a3a4aa1007df6c1b-\(state)-2",
            "origin": origin,
            "source": "kubelet", "line_number": 0, "line": line, "context": ["before 1", "before 2"], "earlier_lines": [],
            "captures": captures, "diagnosis": ["en": "The container exits right after it starts.", "zh": "容器启动后立即退出。"],
            "fix": ["en": "Read the previous container's log.", "zh": "查看上一个容器的日志。", "commands": commands, "steps": []],
            "knowledge_base": ["seed": "007_x.txt", "heading": "Pod CrashLoopBackOff"],
        ]
        let data = try JSONSerialization.data(withJSONObject: object)
        return (try JSONDecoder().decode(AlertDocument.self, from: data), data)
    }

    static func payloads(_ f: DaemonConfiguration.Webhook.Format, _ l: Language = .en) -> WebhookPayloads {
        WebhookPayloads(format: f, language: l, runbookURL: nil, hostName: "here")
    }

    @Test(arguments: [DaemonConfiguration.Webhook.Format.wecom, .dingtalk, .feishu, .slack], [Language.en, .zh])
    func eachChatBodyHasItsPlatformsShapeAndStaysWithinItsLimit(_ format: DaemonConfiguration.Webhook.Format, _ language: Language) throws {
        // A huge evidence line: it is cut; the case id and every fix command are kept whole.
        let long = String(repeating: "evidence 证据 ", count: 4000)
        let commands = (1...12).map { "kubectl -n blueking rollout restart deployment/bk-service-\($0)" }
        let (doc, raw) = try Self.document(line: long, commands: commands)
        let p = Self.payloads(format, language)
        let (body, carried) = try p.body([doc], raw: [raw], secret: format == .feishu ? "s3" : nil, now: 1_700_000_000)
        #expect(carried == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        var texts: [String] = []
        switch format {
        case .wecom:
            // {"msgtype":"markdown","markdown":{"content":...}}, content at most 4096 bytes.
            #expect(json["msgtype"] as? String == "markdown")
            let content = try #require((json["markdown"] as? [String: Any])?["content"] as? String)
            #expect(content.utf8.count <= 4096)
            texts = [content]
        case .dingtalk:
            #expect(json["msgtype"] as? String == "markdown")
            let md = try #require(json["markdown"] as? [String: Any])
            #expect(md["title"] is String)
            texts = [try #require(md["text"] as? String)]
            #expect(body.count <= 20000)
        case .feishu:
            #expect(json["msg_type"] as? String == "interactive")
            let card = try #require(json["card"] as? [String: Any])
            #expect((card["header"] as? [String: Any])?["title"] != nil)
            let elements = try #require(card["elements"] as? [[String: Any]])
            texts = elements.compactMap { ($0["text"] as? [String: Any])?["content"] as? String }
            #expect(json["timestamp"] as? String == "1700000000" && json["sign"] is String)
            #expect(body.count <= 20000)
        default:
            let blocks = try #require(json["blocks"] as? [[String: Any]])
            #expect(blocks.count <= 50 && json["text"] is String)
            for b in blocks where b["type"] as? String == "section" {
                let t = try #require((b["text"] as? [String: Any])?["text"] as? String)
                #expect(t.count <= 3000)
                texts.append(t)
            }
            #expect(blocks.first?["type"] as? String == "header")
            texts.append(((blocks.first?["text"] as? [String: Any])?["text"] as? String) ?? "")
        }
        let all = texts.joined(separator: "\n")
        #expect(all.contains("pod-crashloop-backoff"))
        for c in commands { #expect(all.contains(c), "command kept: \(c)") }
        #expect(all.contains("evidence"), "some evidence is there")
        #expect(!all.contains(long), "the evidence was cut")
        #expect(all.contains(language == .zh ? "处理" : "Fix"), "in the configured language")
    }

    @Test func aMergedSummaryNamesEveryHeldBackAlert() throws {
        var docs: [AlertDocument] = []
        for _ in 0..<5 { docs.append(try Self.document().0) }
        let p = Self.payloads(.wecom)
        let (body, carried) = try p.body(docs, raw: [], secret: nil, now: 0)
        #expect(carried == 5)
        let content = String(decoding: body, as: UTF8.self)
        #expect(content.contains("5 alerts"))
    }

    /// The DingTalk and Feishu signatures against openssl's HMAC, an implementation of its own.
    @Test func signaturesMatchAnIndependentHMAC() throws {
        func openssl(key: String, data: String) throws -> String {
            let r = try runCommand("/bin/sh", ["-c", "printf '%s' \"$DATA\" | openssl dgst -sha256 -mac HMAC -macopt \"key:$KEY\" -binary | base64"], environment: ["DATA": data, "KEY": key, "PATH": "/usr/bin:/bin"])
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let secret = "SECd1e2f3a4b5c6"
        let url = WebhookPayloads.dingtalkURL("https://oapi.dingtalk.com/robot/send?access_token=t", secret: secret, now: 1_700_000_000.123)
        let items = try #require(URLComponents(string: url)?.queryItems)
        #expect(items.first { $0.name == "timestamp" }?.value == "1700000000123")
        let sign = try #require(items.first { $0.name == "sign" }?.value)
        #expect(sign == (try openssl(key: secret, data: "1700000000123\n\(secret)")))
        #expect(url.hasPrefix("https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000123&sign="))
        #expect(!url.contains("+") && !url.hasSuffix(sign) && url.hasSuffix("%3D"), "the sign (base64, ending in =) is URL-encoded")
        // Feishu: the key is timestamp + "\n" + secret, the data empty.
        #expect(WebhookPayloads.feishuSign(timestamp: "1700000000", secret: "s3") == (try openssl(key: "1700000000\ns3", data: "")))
    }

    @Test(arguments: [
        (DaemonConfiguration.Webhook.Format.dingtalk, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", "delivered"),
        (.dingtalk, 200, "{\"errcode\":130101,\"errmsg\":\"send too fast\"}", "retry"),
        (.dingtalk, 200, "{\"errcode\":90030,\"errmsg\":\"over limit\"}", "retry"),
        (.dingtalk, 200, "{\"errcode\":310000,\"errmsg\":\"sign not match\"}", "refused"),
        (.wecom, 200, "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}", "retry"),
        (.wecom, 200, "{\"errcode\":93000,\"errmsg\":\"invalid webhook url\"}", "refused"),
        (.feishu, 200, "{\"code\":9499,\"msg\":\"too many request\"}", "retry"),
        (.feishu, 200, "{\"code\":11232,\"msg\":\"frequency limited\"}", "retry"),
        (.feishu, 200, "{\"code\":19021,\"msg\":\"sign match fail\"}", "refused"),
        (.feishu, 200, "{\"StatusCode\":0,\"StatusMessage\":\"success\"}", "delivered"),
        (.slack, 200, "ok", "delivered"),
        (.slack, 400, "invalid_payload", "refused"),
        (.json, 429, "", "retry"), (.json, 408, "", "retry"), (.json, 503, "", "retry"), (.json, 404, "gone", "refused"),
        (.json, 204, "", "delivered"), (.wecom, 200, "<html>proxy error</html>", "retry"),
    ])
    func answersAreJudgedByTheirBody(_ f: DaemonConfiguration.Webhook.Format, _ status: Int, _ body: String, _ expected: String) {
        let v = Self.payloads(f).judge(status: status, body: body)
        let word = switch v { case .delivered: "delivered"; case .retry: "retry"; case .refused: "refused" }
        #expect(word == expected, "\(v)")
    }

    /// A Kubernetes event of no node (FailedScheduling) is raised alike by every per-node
    /// instance: no instance label (Alertmanager merges the copies); a pod's log alert is the
    /// pod's node's.
    @Test func aClusterWideAlertHasNoInstanceLabelAPodsAlertItsNode() throws {
        let p = Self.payloads(.alertmanager)
        func labels(_ origin: [String: String]) throws -> [String: String] {
            let doc = try Self.document(origin: origin, captures: [:]).0
            return try #require(p.alertmanager(doc, now: 1_800_000_000)["labels"] as? [String: String])
        }
        let cluster = try labels(["kind": "events", "namespace": "blueking", "pod": "pending-0"])
        #expect(cluster["instance"] == nil && cluster["pod"] == "pending-0", "\(cluster)")
        let pod = try labels(["kind": "kubectl", "namespace": "blueking", "pod": "web-1", "container": "c", "node": "node-2"])
        #expect(pod["instance"] == "node-2", "\(pod)")
        // kubectl's own error (no node): the instance that saw it.
        let api = try labels(["kind": "kubectl"])
        #expect(api["instance"] == "here", "\(api)")
        let file = try labels(["kind": "file", "file": "/var/log/x.log"])
        #expect(file["instance"] == "here", "\(file)")
    }

    @Test func alertmanagerGetsLabelsAnnotationsAndEndsAtOnResolve() throws {
        let p = Self.payloads(.alertmanager)
        let firing = p.alertmanager(try Self.document().0, now: 1_800_000_000)
        let labels = try #require(firing["labels"] as? [String: String])
        #expect(labels["alertname"] == "pod-crashloop-backoff" && labels["severity"] == "error" && labels["namespace"] == "blueking")
        #expect(labels["pod"] == "web-1" && labels["node"] == "node-1" && labels["instance"] == "node-1")
        let annotations = try #require(firing["annotations"] as? [String: String])
        for k in ["summary", "description", "fix", "runbook_url"] { #expect(annotations[k]?.isEmpty == false, "\(k)") }
        #expect(annotations["fix"]?.contains("$ kubectl -n blueking describe pod web-1") == true)
        #expect(firing["startsAt"] as? String == "2026-11-30T04:14:12.345Z" && firing["endsAt"] == nil)
        let resolved = p.alertmanager(try Self.document(state: "resolved").0, now: 1_800_000_000)
        #expect(resolved["endsAt"] as? String == "2027-01-15T08:00:00.000Z")
    }

    @Test func proxiesComeFromTheEnvironmentAndNoProxyWins() {
        let env = ["HTTPS_PROXY": "http://user:pw@proxy.local:3128", "HTTP_PROXY": "proxy2:8080", "NO_PROXY": "localhost,.internal,127.0.0.1"]
        #expect(WebhookSink.proxy(for: "https://oapi.dingtalk.com/robot/send", environment: env) == .server(host: "proxy.local", port: 3128, authorization: .basic(username: "user", password: "pw")))
        #expect(WebhookSink.proxy(for: "http://am.example:9093", environment: env) == .server(host: "proxy2", port: 8080))
        #expect(WebhookSink.proxy(for: "http://127.0.0.1:9093", environment: env) == nil)
        #expect(WebhookSink.proxy(for: "https://am.internal/", environment: env) == nil)
        #expect(WebhookSink.proxy(for: "https://x.example/", environment: [:]) == nil)
    }

    @Test func retryAfterIsSecondsOrADate() {
        #expect(WebhookSink.retryAfter("7", now: 0) == 7)
        #expect(WebhookSink.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: 1_445_412_470) == 10)
        #expect(WebhookSink.retryAfter(nil, now: 0) == nil)
    }
}
