import CaseCatalog
import Foundation

/// Renders alerts for a terminal (text) or for machines (one JSON object per line, the schema of
/// docs/ALERT-SCHEMA.md).
public struct AlertFormatter: Sendable {
    public enum Format: String, Sendable, CaseIterable { case text, json }

    public var format: Format
    public var language: Language
    public var color: Bool

    public init(format: Format, language: Language, color: Bool = false) {
        self.format = format
        self.language = language
        self.color = color
    }

    /// A notification: the whole alert when it first fires; in text mode a repeat or resolve is
    /// one short line (the JSON form always carries everything).
    public func render(_ alert: Alert) -> String {
        switch format {
        case .text: alert.sequence == 1 && alert.state == .firing ? text(alert) : update(alert)
        case .json: json(alert)
        }
    }

    private func paint(_ s: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }

    private func severityCode(_ s: Case.Severity) -> String {
        switch s {
        case .critical: "1;31"
        case .error: "31"
        case .warning: "33"
        case .info: "36"
        }
    }

    private func location(_ alert: Alert, _ e: Evidence) -> String {
        e.lineNumber > 0 ? "\(alert.origin.name):\(e.lineNumber)" : alert.origin.name
    }

    private func zh(_ s: String, _ en: String) -> String { language == .zh ? s : en }

    func text(_ alert: Alert) -> String {
        let c = alert.knownCase
        let other: Language = language == .zh ? .en : .zh
        var out = paint("[\(c.severity.rawValue)] \(c.id)", severityCode(c.severity)) + "  " + c.title[language] + "\n"
        out += "    " + c.title[other] + "\n"
        if let place = place(alert) { out += "  \(label("where", "位置")) \(place)\n" }
        for line in alert.context {
            out += "  \(label("ctx", "上文")) " + paint(line, "2") + "\n"
        }
        for e in alert.earlier {
            out += "  \(label("after", "先有")) \(location(alert, e))  \(e.line)\n"
        }
        out += "  \(label("line", "日志")) \(location(alert, alert.evidence))  \(alert.evidence.line)\n"
        if let cut = alert.evidence.truncatedAt {
            out += "        " + zh("（该行过长，仅匹配前 \(cut) 字节）", "(line too long: only its first \(cut) bytes were matched)") + "\n"
        }
        if !alert.captures.isEmpty {
            out += "  \(label("found", "提取")) " + alert.captures.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "\n"
        }
        if !alert.supersededBy.isEmpty {
            out += "  \(label("note", "注意")) " + zh(
                "已发现更具体的案例：\(alert.supersededBy.joined(separator: ", "))",
                "more specific case found: \(alert.supersededBy.joined(separator: ", "))") + "\n"
        }
        if !alert.explains.isEmpty {
            out += "  \(label("note", "注意")) " + zh(
                "此案例解释了前面的 \(alert.explains.joined(separator: ", "))",
                "explains the earlier \(alert.explains.joined(separator: ", "))") + "\n"
        }
        out += "  \(label("why", "原因")) " + indent(alert.fill(c.diagnosis[language])) + "\n"
        out += "  \(label("fix", "处理")) " + indent(alert.fill(c.fix.text[language])) + "\n"
        for line in FixRenderer.lines(c.fix, language: language, fill: { alert.fill($0) }, command: { alert.fill($0, shell: true) }) {
            out += line + "\n"
        }
        return out
    }

    private func place(_ alert: Alert) -> String? { alert.place(in: language) }

    /// One line for a reminder, a final count or a resolve.
    func update(_ alert: Alert) -> String {
        let c = alert.knownCase
        let head = paint("[\(c.severity.rawValue)] \(c.id)", severityCode(c.severity))
        let first = Timestamp.iso8601(alert.firstSeen), last = Timestamp.iso8601(alert.lastSeen)
        let span = first == last ? first : "\(first) – \(last)"
        let where_ = place(alert) ?? alert.origin.name
        switch alert.state {
        case .resolved:
            return "\(head)  " + zh("已恢复：共 \(alert.count) 次，\(where_)，\(span)", "resolved: \(alert.count) times in all, \(where_), \(span)") + "\n"
        case .firing:
            return "\(head)  " + zh("共出现 \(alert.count) 次：\(where_)，\(span)", "seen \(alert.count) times: \(where_), \(span)") + "\n"
        }
    }

    private func label(_ en: String, _ zh: String) -> String {
        let word = language == .zh ? zh : en
        let width = language == .zh ? word.count * 2 : word.count
        return paint(word, "2") + String(repeating: " ", count: max(0, 5 - width))
    }

    private func indent(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .joined(separator: "\n        ")
    }

    func json(_ alert: Alert) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(AlertRecord(alert))) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// Times as alerts print them.
public enum Timestamp {
    /// RFC 3339 in UTC with milliseconds: `2026-11-30T04:14:12.345Z`.
    public static func iso8601(_ seconds: Double) -> String {
        var t = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        let millis = Int(((seconds - seconds.rounded(.down)) * 1000).rounded(.down))
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}

/// The JSON form of an alert: docs/ALERT-SCHEMA.md, `schema_version` 1.
public struct AlertRecord: Encodable {
    public static let schemaVersion = 1

    // The pieces of the record are Codable: the webhook spool reads them back (AlertDocument).
    public struct Text: Codable, Sendable {
        public var en: String
        public var zh: String
        init(_ l: Localized) { en = l.en; zh = l.zh }
        public subscript(_ l: Language) -> String { l == .zh ? zh : en }
    }
    public struct Line: Codable, Sendable {
        public var symptom: String
        public var line_number: Int
        public var line: String
        public var truncated_at: Int?
    }
    /// Where the alert comes from; also read back from the webhook spool (AlertDocument).
    public struct OriginRecord: Codable, Sendable {
        public var kind: String
        public var host: String?
        public var namespace: String?
        public var pod: String?
        public var container: String?
        public var node: String?
        public var unit: String?
        public var identifier: String?
        public var file: String?
    }
    public struct KnowledgeBase: Codable, Sendable {
        public var seed: String
        public var heading: String
    }

    var schema_version = AlertRecord.schemaVersion
    var case_id: String
    var severity: String
    var title: Text
    var symptom: String
    var source: String
    var source_kind: String
    var origin: OriginRecord
    var namespace: String?
    var pod: String?
    var container: String?
    var unit: String?
    var line_number: Int
    var line: String
    var truncated_at: Int?
    var context: [String]
    var earlier_lines: [Line]
    var captures: [String: String]
    var time: String
    var state: String
    var count: Int
    var first_seen: String
    var last_seen: String
    var dedup_key: String
    var alert_id: String
    var event_id: String
    var diagnosis: Text
    var fix: FixRenderer.JSON
    var knowledge_base: KnowledgeBase
    var superseded_by: [String]
    var explains: [String]

    public init(_ a: Alert) {
        case_id = a.caseID
        severity = a.knownCase.severity.rawValue
        title = Text(a.knownCase.title)
        symptom = a.evidence.symptomID
        source = a.origin.name
        source_kind = a.origin.kind.rawValue
        let o = a.origin
        origin = OriginRecord(
            kind: o.kind.rawValue, host: o.host, namespace: o.namespace, pod: o.pod, container: o.container,
            node: o.node, unit: o.unit, identifier: o.identifier, file: o.file)
        namespace = o.namespace
        pod = o.pod
        container = o.container
        unit = o.unit
        line_number = a.evidence.lineNumber
        line = a.evidence.line
        truncated_at = a.evidence.truncatedAt
        context = a.context
        earlier_lines = a.earlier.map { Line(symptom: $0.symptomID, line_number: $0.lineNumber, line: $0.line, truncated_at: $0.truncatedAt) }
        captures = Dictionary(a.captures.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
        time = Timestamp.iso8601(a.time)
        state = a.state.rawValue
        count = a.count
        first_seen = Timestamp.iso8601(a.firstSeen)
        last_seen = Timestamp.iso8601(a.lastSeen)
        dedup_key = a.dedupKey
        alert_id = a.alertID
        event_id = a.eventID
        diagnosis = Text(Localized(en: a.fill(a.knownCase.diagnosis.en), zh: a.fill(a.knownCase.diagnosis.zh)))
        fix = FixRenderer.json(a.knownCase.fix, fill: { a.fill($0) }, command: { a.fill($0, shell: true) })
        knowledge_base = KnowledgeBase(seed: a.knownCase.source.seed, heading: a.knownCase.source.heading)
        superseded_by = a.supersededBy
        explains = a.explains
    }
}
