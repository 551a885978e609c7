import Alerting
import AsyncHTTPClient
import CaseCatalog
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// One entry of `sinks.webhooks`. `write` (the hub's side) filters the alert, masks credentials
/// in its quoted lines, and appends it to the sink's spool, synced: once it returns, the alert
/// survives a crash, so the hub may save the source's position (../shared/DESIGN.md,
/// "Checkpoints").
///
/// A dedicated sender thread delivers from the spool in order: one POST per alert (Alertmanager:
/// up to 64 in one array), exponential backoff with jitter on failure, honouring Retry-After,
/// until the receiver takes it. A refusal for good (4xx other than 408 / 429, or a chat robot's
/// permanent error code) goes to the dead-letter file, counted and logged once with the answer.
/// A chat robot's rate limit holds alerts back in the spool; once it allows again they go out
/// merged into one summary message, never dropped.
final class WebhookSink: AlertSink, @unchecked Sendable {
    typealias Settings = DaemonConfiguration.Webhook

    /// Test and operations knobs from the environment: `CASEWATCH_WEBHOOK_BACKOFF=first,max`
    /// seconds (default 1,300).
    struct Backoff: Sendable {
        var first: Double = 1
        var max: Double = 300

        static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Backoff {
            var b = Backoff()
            if let raw = env["CASEWATCH_WEBHOOK_BACKOFF"] {
                let parts = raw.split(separator: ",").compactMap { Double($0) }
                if parts.count == 2, parts[0] > 0, parts[1] >= parts[0] {
                    b.first = parts[0]
                    b.max = parts[1]
                }
            }
            return b
        }
    }

    let name: String
    let spool: WebhookSpool
    private let metrics: DaemonMetrics
    private let logger: Logger
    private let backoff: Backoff
    private let hostName: String
    private let startedAt = Date().timeIntervalSince1970

    // Under spool.condition:
    private var settings: Settings
    private var language: Language
    private var redactor: Redactor
    private var client: HTTPClient
    private var stopping = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    // The sender thread's own:
    /// Alertmanager: alert id → the firing alert as last sent, re-sent every `resend`.
    private var firing: [String: [String: Any]] = [:]
    private var nextResend = 0.0
    private var nextHeartbeat = 0.0
    private var sent: [Double] = []
    private var heldBack: Set<String> = []
    private var failing = false

    init(settings: Settings, language: Language, redact: DaemonConfiguration.Redact, spoolDirectory: String, maxBytes: Int, metrics: DaemonMetrics, backoff: Backoff, logger: Logger) throws {
        name = settings.name
        self.settings = settings
        self.language = settings.language ?? language
        self.redactor = Redactor(extra: redact.rules)
        self.metrics = metrics
        self.logger = logger
        self.backoff = backoff
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        spool = try WebhookSpool(directory: (spoolDirectory as NSString).appendingPathComponent(settings.name), maxBytes: maxBytes)
        client = Self.client(settings)
        loadFiring()
        metrics.declareWebhook(sink: name, format: settings.format.rawValue)
        metrics.webhookSpoolDepth(sink: name, format: settings.format.rawValue, depth: spool.depth)
    }

    /// An HTTP client for the sink's URL: its timeout, the system trust store (NIOSSL's default
    /// client configuration), no redirects (a redirect could carry the robot key elsewhere), and
    /// the proxy the environment names for the URL (HTTPS_PROXY / HTTP_PROXY, NO_PROXY), which
    /// async-http-client does not read itself.
    static func client(_ s: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) -> HTTPClient {
        let t = TimeAmount.milliseconds(Int64(s.timeout * 1000))
        var config = HTTPClient.Configuration(
            tlsConfiguration: nil, redirectConfiguration: .disallow, timeout: .init(connect: t, read: t),
            proxy: proxy(for: s.url, environment: environment))
        config.httpVersion = .automatic
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    static func proxy(for url: String, environment env: [String: String]) -> HTTPClient.Configuration.Proxy? {
        guard let target = URLComponents(string: url), let host = target.host?.lowercased() else { return nil }
        let noProxy = env["NO_PROXY"] ?? env["no_proxy"] ?? ""
        for raw in noProxy.split(separator: ",") {
            let entry = raw.trimmingCharacters(in: .whitespaces).lowercased()
            guard !entry.isEmpty else { continue }
            if entry == "*" { return nil }
            let bare = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            let name = bare.split(separator: ":").first.map(String.init) ?? bare
            if host == name || host.hasSuffix("." + name) { return nil }
        }
        let value = target.scheme == "https" ? (env["HTTPS_PROXY"] ?? env["https_proxy"]) : (env["HTTP_PROXY"] ?? env["http_proxy"])
        guard let value, !value.isEmpty else { return nil }
        guard let p = URLComponents(string: value.contains("://") ? value : "http://" + value), let ph = p.host else { return nil }
        let port = p.port ?? (p.scheme == "https" ? 443 : 80)
        if let user = p.user {
            return .server(host: ph, port: port, authorization: .basic(username: user.removingPercentEncoding ?? user, password: p.password?.removingPercentEncoding ?? ""))
        }
        return .server(host: ph, port: port)
    }

    /// A reload: the same sink (its spool and thread) with new settings.
    func update(_ s: Settings, language: Language, redact: DaemonConfiguration.Redact) {
        let old: HTTPClient? = spool.condition.withLock {
            let changedClient = s.url != settings.url || s.timeout != settings.timeout
            settings = s
            self.language = s.language ?? language
            redactor = Redactor(extra: redact.rules)
            guard changedClient else { return nil }
            let previous = client
            client = Self.client(s)
            return previous
        }
        if let old { old.shutdown { _ in } }
        metrics.declareWebhook(sink: name, format: s.format.rawValue)
    }

    // MARK: - The hub's side

    /// Whether the sink takes the alert: `min_severity`, `cases`, `exclude_cases`.
    func accepts(_ alert: Alert) -> Bool {
        let s = spool.condition.withLock { settings }
        if let min = s.minSeverity, alert.knownCase.severity < min { return false }
        if let cases = s.cases, !cases.contains(alert.caseID) { return false }
        return !s.excludeCases.contains(alert.caseID)
    }

    func write(_ alert: Alert) throws {
        guard accepts(alert) else { return }
        let (redact, redactor, format) = spool.condition.withLock { (settings.redact, self.redactor, settings.format) }
        let out = redact ? Self.redacted(alert, redactor) : alert
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let record = try encoder.encode(AlertRecord(out))
        let (_, evicted) = try spool.append(
            eventID: alert.eventID, alertID: alert.alertID, rank: alert.knownCase.severity.rank, at: Date().timeIntervalSince1970, record: record)
        for e in evicted {
            logger.warning("Spool full, dropped the oldest alert of the lowest severity", metadata: ["sink": "\(name)", "event_id": "\(e.eventID)", "max_bytes": "\(spool.maxBytes)"])
        }
        if !evicted.isEmpty { metrics.webhookEvicted(sink: name, format: format.rawValue, count: evicted.count) }
        metrics.webhookSpoolDepth(sink: name, format: format.rawValue, depth: spool.depth)
    }

    /// The alert with credentials masked in every line it quotes and every value taken from a
    /// line (captures, the stream's values), so the filled diagnosis and fix carry none either.
    static func redacted(_ alert: Alert, _ r: Redactor) -> Alert {
        var a = alert
        a.evidence.line = r.redact(a.evidence.line)
        a.context = a.context.map(r.redact)
        for i in a.earlier.indices { a.earlier[i].line = r.redact(a.earlier[i].line) }
        for i in a.captures.indices { a.captures[i].value = r.redact(a.captures[i].value) }
        a.streamValues = a.streamValues.mapValues(r.redact)
        return a
    }

    // MARK: - The sender

    func start() {
        let t = Thread { [self] in
            run()
            finished.signal()
        }
        t.name = "casewatch-webhook-\(name)"
        spool.condition.withLock { thread = t }
        t.start()
    }

    /// Stops the sender: an exchange in flight is cancelled (a receiver that is down must not
    /// hold the shutdown for the request's whole timeout); what is pending, that one included,
    /// stays in the spool for the next start (sent again if the receiver had it: same event_id).
    func stop() {
        let (started, client) = spool.condition.withLock {
            stopping = true
            spool.condition.broadcast()
            return (thread != nil, self.client)
        }
        let closed = DispatchSemaphore(value: 0)
        client.shutdown { _ in closed.signal() }
        if started { _ = finished.wait(timeout: .now() + 2) }
        _ = closed.wait(timeout: .now() + 2)
    }

    private func run() {
        var attempt = 0
        var blockedUntil = 0.0
        while true {
            let c = spool.condition
            c.lock()
            var now = Date().timeIntervalSince1970
            while !stopping {
                now = Date().timeIntervalSince1970
                let timer = nextTimer()
                if timer <= now { break }
                if !spool.isEmptyLocked && blockedUntil <= now { break }
                let until = spool.isEmptyLocked ? timer : min(timer, blockedUntil)
                _ = c.wait(until: Date(timeIntervalSince1970: min(until, now + 3600)))
            }
            let s = settings, client = self.client, language = self.language
            let stop = stopping
            c.unlock()
            if stop { return }
            let payloads = WebhookPayloads(format: s.format, language: language, runbookURL: s.runbookURL, hostName: hostName)
            if s.format == .alertmanager { timers(s, payloads, client, now: now) }
            guard blockedUntil <= now, !spool.isEmpty else { continue }

            // The robot's rate limit: wait, and merge what waits.
            if let wait = rateLimitWait(s, now: now) {
                let ids = spool.condition.withLock { spool.pendingIDsLocked }
                let new = ids.subtracting(heldBack)
                if !new.isEmpty { metrics.webhookRateLimited(sink: name, format: s.format.rawValue, count: new.count) }
                heldBack.formUnion(new)
                blockedUntil = now + wait
                continue
            }
            let merging = s.format.isChat && !heldBack.isEmpty
            let batch = spool.take(s.format == .alertmanager ? 64 : merging ? 100 : 1)
            defer { spool.release() }
            var docs: [AlertDocument] = []
            var unreadable: [WebhookSpool.Entry] = []
            for e in batch {
                if let d = try? JSONDecoder().decode(AlertDocument.self, from: e.record) { docs.append(d) } else { unreadable.append(e) }
            }
            if !unreadable.isEmpty {
                deadLetter(unreadable, reason: "unreadable spool entry", s)
                continue
            }
            let outcome = deliver(batch, docs, s, payloads, client, now: now)
            switch outcome.verdict {
            case .delivered:
                let done = Array(batch.prefix(outcome.carried))
                do { try spool.finish(done.map(\.eventID), .sent) } catch {
                    logger.error("Failed to mark alerts sent in the spool, they may be sent again", metadata: ["sink": "\(name)", "error": "\(error)"])
                }
                metrics.webhookDelivery(sink: name, format: s.format.rawValue, outcome: .delivered, count: done.count)
                for e in done { heldBack.remove(e.eventID) }
                if spool.isEmpty { heldBack.removeAll() }
                sent.append(now)
                attempt = 0
                if failing {
                    failing = false
                    logger.notice("Webhook receiver takes alerts again", metadata: ["sink": "\(name)"])
                }
                if s.format == .alertmanager { remember(docs.prefix(outcome.carried), payloads, now: now) }
            case .retry(let reason):
                metrics.webhookDelivery(sink: name, format: s.format.rawValue, outcome: .retried, count: batch.count)
                attempt += 1
                var delay = min(backoff.first * pow(2, Double(attempt - 1)), backoff.max) * Double.random(in: 0.5...1.0)
                if let after = outcome.retryAfter { delay = min(max(after, 0), 3600) }
                if !failing {
                    failing = true
                    logger.error("Failed to deliver alerts to the webhook, retrying with backoff", metadata: [
                        "sink": "\(name)", "error": "\(scrub(reason, s))", "pending": "\(spool.depth)",
                    ])
                }
                // A chat robot's "too fast" answer holds back the queue like our own limit.
                if s.format.isChat { heldBack.formUnion(batch.map(\.eventID)) }
                blockedUntil = now + delay
            case .refused(let reason):
                deadLetter(Array(batch.prefix(max(outcome.carried, 1))), reason: reason, s)
            }
            metrics.webhookSpoolDepth(sink: name, format: s.format.rawValue, depth: spool.depth)
        }
    }

    struct Outcome {
        var verdict: WebhookPayloads.Verdict
        var carried: Int
        var retryAfter: Double?
    }

    private func deliver(_ batch: [WebhookSpool.Entry], _ docs: [AlertDocument], _ s: Settings, _ p: WebhookPayloads, _ client: HTTPClient, now: Double) -> Outcome {
        let body: Data
        let carried: Int
        do {
            (body, carried) = try p.body(docs, raw: batch.map(\.record), secret: s.secret, now: now)
        } catch {
            return Outcome(verdict: .refused("cannot encode: \(error)"), carried: batch.count)
        }
        let (verdict, retryAfter) = post(body, s, p, client, now: now)
        return Outcome(verdict: verdict, carried: carried, retryAfter: retryAfter)
    }

    /// One POST; the verdict on the answer, and Retry-After when the receiver gave one.
    private func post(_ body: Data, _ s: Settings, _ p: WebhookPayloads, _ client: HTTPClient, now: Double) -> (WebhookPayloads.Verdict, Double?) {
        var url = s.url
        if s.format == .alertmanager && !url.hasSuffix("/api/v2/alerts") {
            url = (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/api/v2/alerts"
        }
        if s.format == .dingtalk, let secret = s.secret { url = WebhookPayloads.dingtalkURL(url, secret: secret, now: now) }
        do {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
            headers.add(name: "User-Agent", value: "casewatch/\(CasewatchVersion.string)")
            for (k, v) in s.headers { headers.replaceOrAdd(name: k, value: v) }
            let request = try HTTPClient.Request(url: url, method: .POST, headers: headers, body: .bytes(body))
            let response = try client.execute(request: request, deadline: .now() + .milliseconds(Int64(s.timeout * 1000))).wait()
            let text = response.body.map { String(buffer: $0) } ?? ""
            let verdict = p.judge(status: Int(response.status.code), body: text)
            return (verdict, Self.retryAfter(response.headers.first(name: "Retry-After"), now: now))
        } catch {
            return (.retry("\(error)"), nil)
        }
    }

    /// Seconds, or an HTTP date (RFC 9110 10.2.3).
    static func retryAfter(_ value: String?, now: Double) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value) { return seconds }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: value).map { $0.timeIntervalSince1970 - now }
    }

    private func deadLetter(_ entries: [WebhookSpool.Entry], reason: String, _ s: Settings) {
        let why = scrub(reason, s)
        for e in entries {
            // {"alert": <the spooled alert>, "delivery": {sink, format, event_id, time, answer}}
            let meta: [String: Any] = [
                "sink": name, "format": s.format.rawValue, "event_id": e.eventID,
                "time": WebhookPayloads.rfc3339(Date().timeIntervalSince1970), "answer": why,
            ]
            var line = Data("{\"alert\":".utf8)
            line.append(e.record)
            line.append(Data(",\"delivery\":".utf8))
            line.append((try? JSONSerialization.data(withJSONObject: meta, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8))
            line.append(Data("}".utf8))
            do {
                try spool.deadLetter(line)
                try spool.finish([e.eventID], .dead)
            } catch {
                logger.error("Failed to write the dead-letter file", metadata: ["sink": "\(name)", "error": "\(error)"])
            }
            logger.error("Webhook receiver refused an alert for good, kept in the dead-letter file", metadata: [
                "sink": "\(name)", "event_id": "\(e.eventID)", "answer": "\(why)", "file": "\(spool.deadLetterPath)",
            ])
        }
        metrics.webhookDelivery(sink: name, format: s.format.rawValue, outcome: .dead_letter, count: entries.count)
    }

    /// The text with every secret of the sink's settings replaced by `***`.
    func scrub(_ text: String, _ s: Settings) -> String {
        var t = text
        for secret in s.secrets where t.contains(secret) { t = t.replacingOccurrences(of: secret, with: "***") }
        return t
    }

    // MARK: - Rate limits

    /// Seconds to wait before the next message may go, or nil.
    private func rateLimitWait(_ s: Settings, now: Double) -> Double? {
        let limits = s.effectiveRateLimits
        guard !limits.isEmpty else { return nil }
        let longest = limits.map(\.per).max() ?? 0
        sent.removeAll { $0 <= now - longest }
        var wait = 0.0
        for l in limits {
            let inWindow = sent.filter { $0 > now - l.per }
            if inWindow.count >= l.messages, let oldest = inWindow.first {
                wait = max(wait, oldest + l.per - now)
            }
        }
        return wait > 0 ? wait + 0.01 : nil
    }

    // MARK: - Alertmanager: re-sends and the heartbeat

    private func nextTimer() -> Double {
        guard settings.format == .alertmanager else { return .infinity }
        var t = Double.infinity
        if !firing.isEmpty { t = nextResend }
        if settings.heartbeat != nil { t = min(t, nextHeartbeat) }
        return t
    }

    private func timers(_ s: Settings, _ p: WebhookPayloads, _ client: HTTPClient, now: Double) {
        if let interval = s.heartbeat, now >= nextHeartbeat {
            let body = (try? p.json([p.heartbeat(now: now, interval: interval, startedAt: startedAt)])) ?? Data()
            let (verdict, _) = post(body, s, p, client, now: now)
            nextHeartbeat = now + (verdict == .delivered ? interval : min(interval, 5))
        }
        if !firing.isEmpty && now >= nextResend {
            let body = (try? p.json(Array(firing.values))) ?? Data()
            let (verdict, _) = post(body, s, p, client, now: now)
            nextResend = now + (verdict == .delivered ? s.resend : min(s.resend, 5))
        }
    }

    /// Keeps what is firing (for the re-sends) and forgets what resolved.
    private func remember(_ docs: ArraySlice<AlertDocument>, _ p: WebhookPayloads, now: Double) {
        for d in docs {
            if d.isResolved { firing[d.alert_id] = nil } else { firing[d.alert_id] = p.alertmanager(d, now: now) }
        }
        if nextResend < now { nextResend = now + (spool.condition.withLock { settings.resend }) }
        saveFiring()
    }

    private var firingPath: String { (spool.directory as NSString).appendingPathComponent("firing.json") }

    private func saveFiring() {
        guard let data = try? JSONSerialization.data(withJSONObject: firing, options: [.sortedKeys]) else { return }
        try? data.write(to: URL(fileURLWithPath: firingPath), options: .atomic)
    }

    private func loadFiring() {
        guard let data = FileManager.default.contents(atPath: firingPath),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]]
        else { return }
        firing = object
    }
}

extension WebhookSpool {
    var isEmpty: Bool { condition.withLock { isEmptyLocked } }
}
