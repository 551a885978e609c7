import CaseCatalog
import Foundation
import Yams

extension DaemonConfiguration {
    /// One entry of `sinks.webhooks`: where alerts are POSTed, in which format, which of them.
    public struct Webhook: Sendable {
        public enum Format: String, Sendable, CaseIterable {
            case json, alertmanager, wecom, dingtalk, feishu, slack

            /// The chat robots: they answer 200 with an error in the body and limit messages.
            public var isChat: Bool { self != .json && self != .alertmanager }

            /// The platform's documented limit per robot: (messages, seconds) windows, each kept.
            /// WeCom: 20 a minute (developer.work.weixin.qq.com/document/path/91770, "消息发送频率限制");
            /// DingTalk: 20 a minute (open.dingtalk.com/document/robots/custom-robot-access);
            /// Feishu: 100 a minute and 5 a second (open.feishu.cn custom bot guide, "频率限制");
            /// Slack: about one a second (api.slack.com/apis/rate-limits, incoming webhooks).
            public var defaultRateLimits: [RateLimit] {
                switch self {
                case .json, .alertmanager: []
                case .wecom, .dingtalk: [RateLimit(messages: 20, per: 60)]
                case .feishu: [RateLimit(messages: 100, per: 60), RateLimit(messages: 5, per: 1)]
                case .slack: [RateLimit(messages: 1, per: 1)]
                }
            }
        }

        public struct RateLimit: Sendable, Equatable {
            public var messages: Int
            public var per: Double
            public init(messages: Int, per: Double) {
                self.messages = messages
                self.per = per
            }
        }

        public var name: String
        public var url: String
        public var format: Format = .json
        /// Alerts less severe than this are not sent (nil: all).
        public var minSeverity: Case.Severity?
        /// Only these case ids (nil: all); never these.
        public var cases: [String]?
        public var excludeCases: [String] = []
        public var headers: [String: String] = [:]
        /// Seconds a request may take, connecting included.
        public var timeout: Double = 10
        /// DingTalk / Feishu signing key.
        public var secret: String?
        /// Mask credentials in the quoted log lines (default on).
        public var redact = true
        /// nil: the format's default (`defaultRateLimits`); []: none.
        public var rateLimits: [RateLimit]?
        /// Alertmanager only: the interval of the always-firing `casewatch-heartbeat` alert.
        public var heartbeat: Double?
        /// Alertmanager only: how often firing alerts are sent again (below Alertmanager's
        /// resolve_timeout, 5 minutes by default).
        public var resend: Double = 60
        /// nil: the daemon's `language`.
        public var language: Language?
        /// Alertmanager `runbook_url`: `{seed}` and `{heading}` are filled from the case's
        /// knowledge base page (nil: `casewatch:kb/{seed}#{heading}`).
        public var runbookURL: String?
        /// Where it is written, for messages.
        public var line: Int = 0

        public init(name: String, url: String) {
            self.name = name
            self.url = url
        }

        public var effectiveRateLimits: [RateLimit] { rateLimits ?? format.defaultRateLimits }

        /// Whether the entry holds something that opens a door: a signing key, headers (an
        /// Authorization), a URL with a password or query (robot keys), or a chat robot's URL
        /// (its path or query is the key).
        public var holdsSecret: Bool {
            if secret != nil || !headers.isEmpty || format.isChat { return true }
            guard let c = URLComponents(string: url) else { return true }
            return c.password != nil || c.user != nil || c.query != nil
        }

        /// The strings that must never be logged or counted: the URL (and its path, query and
        /// password), the header values, the secret.
        public var secrets: [String] {
            var out: [String] = [url]
            if let secret { out.append(secret) }
            out += headers.values
            if let c = URLComponents(string: url) {
                if let p = c.password { out.append(p) }
                if let q = c.query { out.append(q) }
                for item in c.queryItems ?? [] { if let v = item.value, v.count >= 6 { out.append(v) } }
                if c.path.count > 1 { out.append(c.path) }
                for part in c.path.split(separator: "/") where part.count >= 16 { out.append(String(part)) }
            }
            return out.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
        }
    }

    /// `spool`: the on-disk queues of the webhook sinks.
    public struct Spool: Sendable {
        /// Bytes a sink's queue may hold; past that the oldest lowest-severity entries go.
        public var maxBytes = 64 << 20
    }

    /// `redact`: what is masked in the log lines a webhook sends.
    public struct Redact: Sendable {
        public struct Rule: Sendable {
            public var regex: String
            public var replace: String
        }
        /// Added to the built-in rules.
        public var rules: [Rule] = []
    }
}

extension ConfigReader {
    static let webhookKeys = [
        "name", "url", "format", "min_severity", "cases", "exclude_cases", "headers", "timeout", "secret", "redact",
        "rate_limit", "heartbeat", "resend", "language", "runbook_url",
    ]

    func readWebhooks(_ node: Node, into s: inout DaemonConfiguration.Sinks) {
        guard case .sequence(let seq) = node else {
            fail(node, "sinks.webhooks", "expected a list of {name, url, format, ...}")
            return
        }
        var names: Set<String> = ["console", "journald"]
        for (i, item) in seq.enumerated() {
            let key = "sinks.webhooks[\(i)]"
            guard let entries = mapping(item, key, allowed: Self.webhookKeys) else { continue }
            var w = DaemonConfiguration.Webhook(name: "", url: "")
            w.line = item.mark?.line ?? 0
            var formatNode: Node?
            for (name, _, v) in entries {
                let full = "\(key).\(name)"
                switch name {
                case "name":
                    if let n = string(v, full) {
                        if n.isEmpty || !n.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
                            fail(v, full, "expected letters, digits, - and _ (it names the spool directory and the metrics), got '\(n)'")
                        } else if !names.insert(n).inserted {
                            fail(v, full, "the sink name '\(n)' is used twice")
                        } else {
                            w.name = n
                        }
                    }
                case "url":
                    if let u = string(v, full) {
                        // Never quote the URL: it may hold the robot's key.
                        if let c = URLComponents(string: u), c.scheme == "http" || c.scheme == "https", c.host?.isEmpty == false {
                            w.url = u
                        } else {
                            fail(v, full, "expected an http:// or https:// URL")
                        }
                    }
                case "format":
                    formatNode = v
                    if let raw = string(v, full) {
                        if let f = DaemonConfiguration.Webhook.Format(rawValue: raw) { w.format = f } else {
                            fail(v, full, "'\(raw)' is not one of \(DaemonConfiguration.Webhook.Format.allCases.map(\.rawValue).joined(separator: ", "))")
                        }
                    }
                case "min_severity":
                    if let raw = string(v, full) {
                        if let sev = Case.Severity(rawValue: raw) { w.minSeverity = sev } else {
                            fail(v, full, "'\(raw)' is not one of \(Case.Severity.allCases.map(\.rawValue).joined(separator: ", "))")
                        }
                    }
                case "cases": w.cases = strings(v, full)
                case "exclude_cases": w.excludeCases = strings(v, full) ?? []
                case "headers":
                    guard case .mapping(let m) = v else {
                        fail(v, full, "expected a mapping of header names to values")
                        continue
                    }
                    do {
                        for (hk, hv) in m {
                            guard let name = hk.string, !name.isEmpty, name.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != ":" }) else {
                                fail(hk, full, "expected a header name")
                                continue
                            }
                            if let value = string(hv, "\(full).\(name)") { w.headers[name] = value }
                        }
                    }
                case "timeout": if let d = duration(v, full) { w.timeout = d }
                case "secret": w.secret = string(v, full)
                case "redact": if let b = bool(v, full) { w.redact = b }
                case "rate_limit": w.rateLimits = rateLimit(v, full)
                case "heartbeat": w.heartbeat = duration(v, full)
                case "resend": if let d = duration(v, full) { w.resend = d }
                case "language":
                    if let raw = string(v, full) {
                        if raw == "auto" { w.language = nil } else if let l = Language(rawValue: raw) { w.language = l } else {
                            fail(v, full, "'\(raw)' is not one of zh, en, auto")
                        }
                    }
                default: w.runbookURL = string(v, full)
                }
            }
            if w.name.isEmpty && !entries.contains(where: { $0.0 == "name" }) { fail(item, "\(key).name", "required: the sink's name") }
            if w.url.isEmpty && !entries.contains(where: { $0.0 == "url" }) { fail(item, "\(key).url", "required: where to POST") }
            if w.heartbeat != nil && w.format != .alertmanager {
                fail(formatNode ?? item, "\(key).heartbeat", "only an alertmanager sink keeps a heartbeat alert")
            }
            if w.secret != nil && w.format != .dingtalk && w.format != .feishu {
                fail(formatNode ?? item, "\(key).secret", "only the dingtalk and feishu formats sign with a secret")
            }
            if !w.name.isEmpty && !w.url.isEmpty { s.webhooks.append(w) }
        }
    }

    /// `20/1m`, `5/s`, `100/60s`; `off` or `0`: no limit.
    func rateLimit(_ node: Node, _ key: String) -> [DaemonConfiguration.Webhook.RateLimit]? {
        guard let raw = string(node, key) else { return nil }
        if raw == "off" || raw == "0" || raw == "false" { return [] }
        let parts = raw.split(separator: "/", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.count == 2, let n = Int(parts[0]), n > 0 {
            let unit = parts[1]
            let per = ["s": 1.0, "m": 60, "min": 60, "h": 3600][unit] ?? parseDuration(unit)
            if let per, per > 0 { return [.init(messages: n, per: per)] }
        }
        fail(node, key, "expected messages per duration such as 20/1m or 5/1s, or off, got '\(raw)'")
        return nil
    }

    func readSpool(_ node: Node, into spool: inout DaemonConfiguration.Spool) {
        for (_, _, v) in mapping(node, "spool", allowed: ["max_bytes"]) ?? [] {
            guard let raw = string(v, "spool.max_bytes") else { continue }
            if let n = Self.bytes(raw), n >= 64 << 10 { spool.maxBytes = n } else {
                fail(v, "spool.max_bytes", "expected a size of at least 64KiB such as 67108864, 64MiB or 1GiB, got '\(raw)'")
            }
        }
    }

    /// `1048576`, `512KiB`, `64MiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB` as powers of 1024).
    static func bytes(_ text: String) -> Int? {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)]
        let t = text.trimmingCharacters(in: .whitespaces)
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            guard let n = Int(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n > 0 else { return nil }
            return n * factor
        }
        return Int(t)
    }

    func readRedact(_ node: Node, into redact: inout DaemonConfiguration.Redact) {
        for (_, _, v) in mapping(node, "redact", allowed: ["rules"]) ?? [] {
            guard case .sequence(let seq) = v else {
                fail(v, "redact.rules", "expected a list of {regex, replace}")
                continue
            }
            for (i, item) in seq.enumerated() {
                let key = "redact.rules[\(i)]"
                var regex: String?
                var replace = "***"
                for (name, _, value) in mapping(item, key, allowed: ["regex", "replace"]) ?? [] {
                    if name == "regex" {
                        if let r = string(value, "\(key).regex") {
                            do {
                                _ = try NSRegularExpression(pattern: r)
                                regex = r
                            } catch {
                                fail(value, "\(key).regex", "not a valid regular expression")
                            }
                        }
                    } else if let r = string(value, "\(key).replace") {
                        replace = r
                    }
                }
                if let regex { redact.rules.append(.init(regex: regex, replace: replace)) } else if errors.last?.key.hasPrefix(key) != true {
                    fail(item, "\(key).regex", "required: the pattern to mask")
                }
            }
        }
    }

    /// A configuration that holds a secret (a webhook's key, a signing secret, a header) should
    /// be readable by its owner (and group) only.
    func warnIfReadableByOthers(_ config: DaemonConfiguration) {
        guard config.sinks.webhooks.contains(where: \.holdsSecret) else { return }
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IROTH != 0 else { return }
        warnings.append("\(path): the file holds webhook secrets and other users can read it; chmod o-r \(path) (文件含 webhook 密钥，其他用户可读)")
    }
}
