import Alerting
import CaseCatalog
import Crypto
import Foundation

/// The body each format sends, and how each judges the answer. docs/ALERT-SCHEMA.md ("Webhook
/// formats") shows each shape.
struct WebhookPayloads: Sendable {
    typealias Format = DaemonConfiguration.Webhook.Format

    let format: Format
    let language: Language
    let runbookURL: String?
    /// The local host name: Alertmanager's `instance` when the alert's origin names no host.
    let hostName: String

    /// The largest body (or text) each platform takes, in UTF-8 bytes unless said.
    /// - WeCom markdown `content`: at most 4096 bytes (developer.work.weixin.qq.com/document/path/91770).
    /// - DingTalk: a message of at most 20000 bytes (open.dingtalk.com/document/robots/custom-robot-access).
    /// - Feishu: a request body of at most 20 KB (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot, "请求体大小不能超过 20K").
    /// - Slack: a section block's text at most 3000 characters, 50 blocks a message
    ///   (api.slack.com/reference/block-kit/blocks#section).
    var limit: Int {
        switch format {
        case .wecom: 4096
        case .dingtalk: 20000
        case .feishu: 20000
        case .slack: 3000
        case .json, .alertmanager: Int.max
        }
    }

    private func zh(_ s: String, _ en: String) -> String { language == .zh ? s : en }

    // MARK: - Chat text

    /// The markdown text of one alert within `budget` bytes: the head (case id, severity, title,
    /// where, state), the fix and its commands are kept whole; the evidence's context goes first,
    /// then the evidence line and the diagnosis are cut.
    func markdown(_ a: AlertDocument, budget: Int, codeBlocks: Bool = true) -> String {
        let sev = a.severity.uppercased()
        let title = a.title[language]
        let icon = a.isResolved ? "✅" : (a.severity == "critical" || a.severity == "error" ? "🔴" : "🟠")
        var head = "### \(icon) [\(sev)] \(a.case_id)\n**\(title)**\n"
        head += "> \(zh("位置", "Where")): \(a.place(language))\n"
        head += "> \(zh("状态", "State")): \(a.status(language))\n"
        var fix = "\n**\(zh("处理", "Fix"))**: \(a.fix[language].trimmingCharacters(in: .whitespacesAndNewlines))\n"
        if !a.fix.commands.isEmpty {
            fix += codeBlocks ? "```\n" + a.fix.commands.joined(separator: "\n") + "\n```\n" : a.fix.commands.map { "`\($0)`" }.joined(separator: "\n") + "\n"
        }
        let tail = "\n\(zh("知识库", "Knowledge base")): \(a.knowledge_base.seed) — \(a.knowledge_base.heading)\n`event_id: \(a.event_id)`"
        var room = budget - head.utf8.count - fix.utf8.count - tail.utf8.count
        // Evidence: the context lines (newest kept), then the line itself.
        var evidence = ""
        if room > 64 {
            let label = "\n**\(zh("日志", "Evidence"))** (\(a.source)\(a.line_number > 0 ? ":\(a.line_number)" : "")):\n"
            let open = codeBlocks ? "```\n" : "", close = codeBlocks ? "\n```\n" : "\n"
            let fixed = label.utf8.count + open.utf8.count + close.utf8.count
            let line = Self.cut(a.line, to: max(0, min(room - fixed, 1024)))
            var context: [String] = []
            var used = fixed + line.utf8.count
            for c in a.context.reversed() {
                let c2 = Self.cut(c, to: 256)
                guard used + c2.utf8.count + 1 <= room / 2 + line.utf8.count else { break }
                context.insert(c2, at: 0)
                used += c2.utf8.count + 1
            }
            evidence = label + open + (context + [line]).joined(separator: "\n") + close
            room -= evidence.utf8.count
        }
        var diagnosis = ""
        if room > 48 {
            let label = "\n**\(zh("原因", "Why"))**: "
            diagnosis = label + Self.cut(a.diagnosis[language].trimmingCharacters(in: .whitespacesAndNewlines), to: room - label.utf8.count - 1) + "\n"
        }
        return head + evidence + diagnosis + fix + tail
    }

    /// Several held-back alerts in one message: one line each, as many as fit in `budget`; the
    /// number that fitted is returned with the text (the rest go in the next summary).
    func summary(_ alerts: [AlertDocument], budget: Int) -> (text: String, count: Int) {
        var text = "### " + zh("casewatch：\(alerts.count) 条告警（因机器人频率限制合并发送）", "casewatch: \(alerts.count) alerts (merged: the robot's rate limit held them back)") + "\n"
        var n = 0
        for a in alerts {
            let line = "- **[\(a.severity.uppercased())] \(a.case_id)** \(a.title[language]) — \(a.place(language)) — \(a.status(language)) — \(zh("处理", "fix")): \(a.fix.commands.first.map { "`\($0)`" } ?? JournalFirst.sentence(a.fix[language])) (`\(a.event_id)`)\n"
            if text.utf8.count + line.utf8.count > budget - 80 && n > 0 { break }
            text += line
            n += 1
        }
        if n < alerts.count { text += zh("（其余 \(alerts.count - n) 条随后发送）", "(\(alerts.count - n) more follow)") + "\n" }
        return (text, n)
    }

    static func cut(_ s: String, to bytes: Int) -> String {
        guard s.utf8.count > bytes else { return s }
        guard bytes > 3 else { return "" }
        var out = ""
        var used = 0
        for ch in s {
            let n = String(ch).utf8.count
            if used + n > bytes - 3 { break }
            out.append(ch)
            used += n
        }
        return out + "…"
    }

    // MARK: - Bodies

    /// The body for one alert (`alerts.count == 1`) or a merged summary of held-back ones;
    /// returns how many of `alerts` it carries.
    func body(_ alerts: [AlertDocument], raw: [Data], secret: String?, now: Double) throws -> (Data, Int) {
        switch format {
        case .json:
            return (raw[0], 1)
        case .alertmanager:
            return (try json(alerts.map { alertmanager($0, now: now) }), alerts.count)
        case .wecom:
            // {"msgtype":"markdown","markdown":{"content":"..."}} (developer.work.weixin.qq.com/document/path/91770)
            let (text, n) = alerts.count == 1 ? (markdown(alerts[0], budget: limit, codeBlocks: false), 1) : summary(alerts, budget: limit)
            return (try json(["msgtype": "markdown", "markdown": ["content": text]]), n)
        case .dingtalk:
            // {"msgtype":"markdown","markdown":{"title":"...","text":"..."}} (open.dingtalk.com/document/robots/custom-robot-access)
            let (text, n) = alerts.count == 1 ? (markdown(alerts[0], budget: limit - 600), 1) : summary(alerts, budget: limit - 600)
            let title = alerts.count == 1 ? "[\(alerts[0].severity)] \(alerts[0].case_id)" : "casewatch: \(n)"
            return (try json(["msgtype": "markdown", "markdown": ["title": title, "text": text]]), n)
        case .feishu:
            // An interactive card: {"msg_type":"interactive","card":{"header":{...},"elements":[{"tag":"div","text":{"tag":"lark_md",...}}]}};
            // signed: "timestamp" and "sign" in the body (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot).
            let (text, n) = alerts.count == 1 ? (markdown(alerts[0], budget: limit - 1500), 1) : summary(alerts, budget: limit - 1500)
            let first = alerts[0]
            let title = alerts.count == 1 ? "[\(first.severity.uppercased())] \(first.case_id): \(first.title[language])" : "casewatch: \(n)"
            let template = alerts.count == 1 && first.isResolved ? "green" : (first.severity == "critical" || first.severity == "error" ? "red" : "orange")
            var body: [String: Any] = [
                "msg_type": "interactive",
                "card": [
                    "config": ["wide_screen_mode": true],
                    "header": ["title": ["tag": "plain_text", "content": Self.cut(title, to: 200)], "template": template],
                    "elements": [["tag": "div", "text": ["tag": "lark_md", "content": text]]],
                ] as [String: Any],
            ]
            if let secret {
                let timestamp = String(Int(now))
                body["timestamp"] = timestamp
                body["sign"] = Self.feishuSign(timestamp: timestamp, secret: secret)
            }
            return (try json(body), n)
        case .slack:
            return (try json(slack(alerts)), alerts.count == 1 ? 1 : min(alerts.count, 40))
        }
    }

    /// Slack Block Kit: a header, then sections of at most 3000 characters (the fix may take
    /// several; its commands are never cut), at most 50 blocks
    /// (api.slack.com/messaging/webhooks, api.slack.com/reference/block-kit/blocks).
    func slack(_ alerts: [AlertDocument]) -> [String: Any] {
        func section(_ text: String) -> [String: Any] { ["type": "section", "text": ["type": "mrkdwn", "text": text]] }
        if alerts.count > 1 {
            let shown = Array(alerts.prefix(40))
            var blocks: [[String: Any]] = [["type": "header", "text": ["type": "plain_text", "text": Self.cut(zh("casewatch：\(shown.count) 条告警（合并发送）", "casewatch: \(shown.count) alerts (merged)"), to: 150)]]]
            for a in shown {
                blocks.append(section(Self.cut("*[\(a.severity.uppercased())] \(a.case_id)* \(a.title[language])\n\(a.place(language)) — \(a.status(language))\n`\(a.event_id)`", to: 2900)))
            }
            return ["text": "casewatch: \(shown.count) alerts", "blocks": blocks]
        }
        let a = alerts[0]
        let title = "[\(a.severity.uppercased())] \(a.case_id)"
        var blocks: [[String: Any]] = [
            ["type": "header", "text": ["type": "plain_text", "text": Self.cut(title, to: 150)]],
            section(Self.cut("*\(a.title[language])*\n\(zh("位置", "Where")): \(a.place(language))\n\(zh("状态", "State")): \(a.status(language))", to: 3000)),
        ]
        let context = a.context.suffix(3).map { Self.cut($0, to: 300) }
        let evidence = (context + [Self.cut(a.line, to: 1500)]).joined(separator: "\n")
        blocks.append(section(Self.cut("*\(zh("日志", "Evidence"))* (\(a.source)):\n```\(evidence)```", to: 3000)))
        blocks.append(section(Self.cut("*\(zh("原因", "Why"))*: \(a.diagnosis[language])", to: 3000)))
        // The fix: the text, then the commands in blocks of whole lines below 3000 characters.
        blocks.append(section(Self.cut("*\(zh("处理", "Fix"))*: \(a.fix[language])", to: 3000)))
        var chunk: [String] = []
        func flush() {
            if !chunk.isEmpty { blocks.append(section("```" + chunk.joined(separator: "\n") + "```")) }
            chunk = []
        }
        for c in a.fix.commands {
            if (chunk + [c]).joined(separator: "\n").count + 6 > 3000 { flush() }
            chunk.append(c)
        }
        flush()
        blocks.append(["type": "context", "elements": [["type": "mrkdwn", "text": Self.cut("\(a.knowledge_base.seed) — \(a.knowledge_base.heading) · event_id \(a.event_id)", to: 3000)]]])
        return ["text": "\(title): \(a.title[language])", "blocks": Array(blocks.prefix(50))]
    }

    /// Alertmanager's postable alert (prometheus.io/docs/alerting/latest/clients, api/v2/openapi.yaml):
    /// labels identify it, annotations describe it; endsAt set (in the past) resolves it.
    func alertmanager(_ a: AlertDocument, now: Double) -> [String: Any] {
        var labels: [String: String] = ["alertname": a.case_id, "severity": a.severity, "dedup_key": a.dedup_key]
        // A Kubernetes event of no node (FailedScheduling, a PVC's) is raised alike by every
        // per-node instance: no instance label, so Alertmanager merges the copies. (kubectl's
        // own errors keep theirs: an instance that cannot reach the API is that instance's news.)
        let clusterWide = a.origin.kind == SourceKind.events.rawValue && a.origin.host == nil && a.node == nil
        if !clusterWide { labels["instance"] = a.origin.host ?? a.node ?? hostName }
        if let ns = a.namespace { labels["namespace"] = ns }
        if let pod = a.pod { labels["pod"] = pod }
        if let node = a.node { labels["node"] = node }
        var description = "\(a.diagnosis[language].trimmingCharacters(in: .whitespacesAndNewlines))\n\n\(zh("位置", "Where")): \(a.place(language))\n\(zh("日志", "Evidence")): \(a.line)"
        if a.count > 1 { description += "\n\(a.status(language))" }
        let fix = ([a.fix[language].trimmingCharacters(in: .whitespacesAndNewlines)] + a.fix.commands.map { "$ " + $0 }).joined(separator: "\n")
        let runbook = (runbookURL ?? "casewatch:kb/{seed}#{heading}")
            .replacingOccurrences(of: "{seed}", with: a.knowledge_base.seed.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? a.knowledge_base.seed)
            .replacingOccurrences(of: "{heading}", with: a.knowledge_base.heading.addingPercentEncoding(withAllowedCharacters: .urlFragmentAllowed) ?? "")
        var out: [String: Any] = [
            "labels": labels,
            "annotations": [
                "summary": a.title[language], "description": description, "fix": fix, "runbook_url": runbook,
                "event_id": a.event_id, "count": String(a.count),
            ],
            "startsAt": a.first_seen,
        ]
        if a.isResolved {
            // The resolve time: when the notice was made (it follows the last hit by the window).
            out["endsAt"] = Self.rfc3339(max(now, Self.parse(a.last_seen) ?? now))
        }
        return out
    }

    /// The always-firing `casewatch-heartbeat` alert (Alertmanager's Watchdog pattern): sent every
    /// `interval`, it ends 3 intervals after the last send, so a node gone silent resolves it.
    func heartbeat(now: Double, interval: Double, startedAt: Double) -> [String: Any] {
        [
            "labels": ["alertname": "casewatch-heartbeat", "severity": "none", "instance": hostName],
            "annotations": [
                "summary": zh("casewatch 心跳：此告警一直在触发，停止即说明该节点的 casewatch 已失联", "casewatch heartbeat: always firing; when it stops, casewatch on this node went silent"),
                "description": zh("死人开关（dead man's switch）：把它路由给会在收不到时报警的接收方。", "A dead man's switch: route it to a receiver that alerts when it stops arriving."),
            ],
            "startsAt": Self.rfc3339(startedAt),
            "endsAt": Self.rfc3339(now + 3 * interval),
        ]
    }

    // MARK: - Signing

    /// DingTalk's signed URL: HmacSHA256 keyed by the secret over `timestamp + "\n" + secret`
    /// (milliseconds), base64, URL-encoded, appended as `&timestamp=...&sign=...`
    /// (open.dingtalk.com/document/robots/customize-robot-security-settings).
    static func dingtalkURL(_ url: String, secret: String, now: Double) -> String {
        let timestamp = String(Int64(now * 1000))
        let mac = HMAC<Crypto.SHA256>.authenticationCode(for: Data("\(timestamp)\n\(secret)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        let sign = Data(mac).base64EncodedString()
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-_.~")
        let encoded = sign.addingPercentEncoding(withAllowedCharacters: allowed) ?? sign
        return url + (url.contains("?") ? "&" : "?") + "timestamp=\(timestamp)&sign=\(encoded)"
    }

    /// Feishu's signature: HmacSHA256 keyed by `timestamp + "\n" + secret` (seconds) over empty
    /// data, base64 (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot, "签名校验").
    static func feishuSign(timestamp: String, secret: String) -> String {
        let mac = HMAC<Crypto.SHA256>.authenticationCode(for: Data(), using: SymmetricKey(data: Data("\(timestamp)\n\(secret)".utf8)))
        return Data(mac).base64EncodedString()
    }

    // MARK: - Answers

    enum Verdict: Equatable {
        case delivered
        /// Try again later (a transient failure or the platform's rate limit).
        case retry(String)
        /// The receiver refused it for good: dead letter.
        case refused(String)
    }

    /// Judges a reply: 2xx is not enough for the chat robots, which answer 200 with an error in
    /// the body.
    /// - WeCom: `{"errcode":0,"errmsg":"ok"}`; 45009 is its rate limit, 93000 an invalid key.
    /// - DingTalk: `{"errcode":0,"errmsg":"ok"}`; 130101 / 90030 / 660026 too fast, 300001 a bad
    ///   token, 310000 a failed keyword / signature / IP check.
    /// - Feishu: `{"code":0,"msg":"success"}` (older: `StatusCode`); 9499 / 11232 too many
    ///   requests, 19021 a bad signature, 19022 an IP not allowed, 19024 a missing keyword.
    /// - Slack: `ok`; errors come as 4xx (`invalid_payload`, `no_service`) or 429.
    /// An unknown error code is retried (never lost; the spool is bounded).
    func judge(status: Int, body: String) -> Verdict {
        let snippet = Self.cut(body, to: 2048)
        if status == 408 || status == 429 || status >= 500 { return .retry("HTTP \(status)") }
        if status >= 400 { return .refused("HTTP \(status): \(snippet)") }
        if status < 200 || status >= 300 { return .retry("HTTP \(status)") }
        guard format.isChat, format != .slack else { return .delivered }
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        let key = format == .feishu ? (object?["code"] != nil ? "code" : "StatusCode") : "errcode"
        guard let code = (object?[key] as? NSNumber)?.intValue else {
            return .retry("HTTP \(status) without \(key) in the answer: \(snippet)")
        }
        if code == 0 { return .delivered }
        let permanent: Set<Int> = switch format {
        case .wecom: [93000, 40008, 40058]
        case .dingtalk: [300001, 310000, 400101, 400102]
        case .feishu: [19001, 19021, 19022, 19024]
        default: []
        }
        return permanent.contains(code) ? .refused("\(key) \(code): \(snippet)") : .retry("\(key) \(code): \(snippet)")
    }

    // MARK: - Helpers

    func json(_ object: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    static func rfc3339(_ seconds: Double) -> String { Alerting.Timestamp.iso8601(seconds) }

    static func parse(_ text: String) -> Double? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)?.timeIntervalSince1970
    }
}

/// The first sentence of a fix, for a summary line.
enum JournalFirst {
    static func sentence(_ text: String) -> String {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " ")
        var s = Substring(t)
        if let end = s.range(of: ". ")?.lowerBound { s = s[...end] }
        if let end = s.firstIndex(of: "。") { s = s[...end] }
        return WebhookPayloads.cut(String(s), to: 200)
    }
}
