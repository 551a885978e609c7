import CaseCatalog
import Foundation

/// Renders alerts for a terminal (text) or for machines (one JSON object per line).
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

    public func render(_ alert: Alert) -> String {
        switch format {
        case .text: text(alert)
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
        "\(alert.origin.name):\(e.lineNumber)"
    }

    func text(_ alert: Alert) -> String {
        let c = alert.knownCase
        let other: Language = language == .zh ? .en : .zh
        var out = paint("[\(c.severity.rawValue)] \(c.id)", severityCode(c.severity)) + "  " + c.title[language] + "\n"
        out += "    " + c.title[other] + "\n"
        for e in alert.earlier {
            out += "  \(label("after", "先有")) \(location(alert, e))  \(e.line)\n"
        }
        out += "  \(label("line", "日志")) \(location(alert, alert.evidence))  \(alert.evidence.line)\n"
        if let cut = alert.evidence.truncatedAt {
            out += "        " + (language == .zh ? "（该行过长，仅匹配前 \(cut) 字节）" : "(line too long: only its first \(cut) bytes were matched)") + "\n"
        }
        if !alert.captures.isEmpty {
            out += "  \(label("found", "提取")) " + alert.captures.map { "\($0.name)=\($0.value)" }.joined(separator: " ") + "\n"
        }
        if !alert.supersededBy.isEmpty {
            out += "  \(label("note", "注意")) " + (language == .zh
                ? "已发现更具体的案例：\(alert.supersededBy.joined(separator: ", "))"
                : "more specific case found: \(alert.supersededBy.joined(separator: ", "))") + "\n"
        }
        if !alert.explains.isEmpty {
            out += "  \(label("note", "注意")) " + (language == .zh
                ? "此案例解释了前面的 \(alert.explains.joined(separator: ", "))"
                : "explains the earlier \(alert.explains.joined(separator: ", "))") + "\n"
        }
        out += "  \(label("why", "原因")) " + indent(alert.fill(c.diagnosis[language])) + "\n"
        out += "  \(label("fix", "处理")) " + indent(alert.fill(c.fix.text[language])) + "\n"
        for line in FixRenderer.lines(c.fix, language: language, fill: alert.fill) { out += line + "\n" }
        return out
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

/// The JSON form of an alert (docs/ALERT-SCHEMA.md).
struct AlertRecord: Encodable {
    struct Text: Encodable {
        var en: String
        var zh: String
        init(_ l: Localized) { en = l.en; zh = l.zh }
    }
    struct Line: Encodable {
        var symptom: String
        var line_number: Int
        var line: String
        var truncated_at: Int?
    }

    var case_id: String
    var severity: String
    var title: Text
    var symptom: String
    var source: String
    var source_kind: String
    var namespace: String?
    var pod: String?
    var container: String?
    var unit: String?
    var line_number: Int
    var line: String
    var truncated_at: Int?
    var earlier_lines: [Line]
    var captures: [String: String]
    var time: String
    var diagnosis: Text
    var fix: FixRenderer.JSON
    var superseded_by: [String]
    var explains: [String]

    init(_ a: Alert) {
        case_id = a.caseID
        severity = a.knownCase.severity.rawValue
        title = Text(a.knownCase.title)
        symptom = a.evidence.symptomID
        source = a.origin.name
        source_kind = a.origin.kind.rawValue
        namespace = a.origin.namespace
        pod = a.origin.pod
        container = a.origin.container
        unit = a.origin.unit
        line_number = a.evidence.lineNumber
        line = a.evidence.line
        truncated_at = a.evidence.truncatedAt
        earlier_lines = a.earlier.map { Line(symptom: $0.symptomID, line_number: $0.lineNumber, line: $0.line, truncated_at: $0.truncatedAt) }
        captures = Dictionary(a.captures.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
        time = Date(timeIntervalSince1970: a.time).ISO8601Format()
        diagnosis = Text(Localized(en: a.fill(a.knownCase.diagnosis.en), zh: a.fill(a.knownCase.diagnosis.zh)))
        fix = FixRenderer.json(a.knownCase.fix, fill: a.fill)
        superseded_by = a.supersededBy
        explains = a.explains
    }
}
