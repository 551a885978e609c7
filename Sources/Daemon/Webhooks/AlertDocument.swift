import Alerting
import CaseCatalog
import Foundation

/// The alert as a spooled webhook entry holds it: the JSON object of docs/ALERT-SCHEMA.md
/// (`schema_version` 1), already redacted, read back for the formats that reshape it. The `json`
/// format sends the spooled bytes as they are.
struct AlertDocument: Decodable, Sendable {
    typealias Text = AlertRecord.Text
    typealias OriginRecord = AlertRecord.OriginRecord
    typealias Line = AlertRecord.Line
    typealias KnowledgeBase = AlertRecord.KnowledgeBase
    struct Fix: Decodable, Sendable {
        var en: String
        var zh: String
        var commands: [String]
        subscript(_ l: Language) -> String { l == .zh ? zh : en }
    }

    var schema_version: Int
    var case_id: String
    var severity: String
    var title: Text
    var state: String
    var count: Int
    var first_seen: String
    var last_seen: String
    var time: String
    var dedup_key: String
    var alert_id: String
    var event_id: String
    var origin: OriginRecord
    var source: String
    var line_number: Int
    var line: String
    var context: [String]
    var earlier_lines: [Line]
    var captures: [String: String]
    var diagnosis: Text
    var fix: Fix
    var knowledge_base: KnowledgeBase

    var isResolved: Bool { state == "resolved" }

    /// The namespace, pod, node and container: from the origin, else from the line's captures
    /// (a kubelet line in the journal names the pod), as the dedup key takes them.
    var namespace: String? { origin.namespace ?? captures["namespace"] }
    var pod: String? { origin.pod ?? captures["pod"] }
    var node: String? { origin.node ?? captures["node"] }
    var container: String? { origin.container ?? captures["container"] }

    /// Namespace / pod / container, node, unit (or identifier), host, file: where, in words.
    func place(_ language: Language) -> String {
        func zh(_ s: String, _ en: String) -> String { language == .zh ? s : en }
        let o = origin
        var parts: [String] = []
        if let ns = namespace { parts.append(zh("命名空间 \(ns)", "namespace \(ns)")) }
        if let pod { parts.append("pod \(pod)") }
        if let c = container { parts.append(zh("容器 \(c)", "container \(c)")) }
        if let node { parts.append(zh("节点 \(node)", "node \(node)")) }
        if let unit = o.unit { parts.append("unit \(unit)") } else if let id = o.identifier { parts.append(id) }
        if let host = o.host { parts.append(zh("主机 \(host)", "host \(host)")) }
        if let file = o.file, o.unit == nil { parts.append(zh("文件 \(file)", "file \(file)")) }
        return parts.isEmpty ? source : parts.joined(separator: zh("，", ", "))
    }

    /// One line: the state and count, in words.
    func status(_ language: Language) -> String {
        let span = first_seen == last_seen ? first_seen : "\(first_seen) – \(last_seen)"
        switch (language, isResolved) {
        case (.zh, true): return "已恢复：共 \(count) 次（\(span)）"
        case (.zh, false): return count == 1 ? "告警中：首次出现 \(first_seen)" : "告警中：已出现 \(count) 次（\(span)）"
        case (.en, true): return "resolved: \(count) times in all (\(span))"
        case (.en, false): return count == 1 ? "firing: first seen \(first_seen)" : "firing: seen \(count) times (\(span))"
        }
    }
}

extension Case.Severity {
    /// Eviction order of the spool: info goes first, critical last.
    var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .error: 2
        case .critical: 3
        }
    }
}
