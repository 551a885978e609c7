import CaseCatalog
import Foundation
import LogSources

/// One line that took part in an alert.
public struct Evidence: Sendable, Hashable, Codable {
    public var symptomID: String
    public var lineNumber: Int
    public var line: String
    /// Set when the line was longer than the reader's cap: the length it was cut at.
    public var truncatedAt: Int?

    public init(symptomID: String, lineNumber: Int, line: String, truncatedAt: Int? = nil) {
        self.symptomID = symptomID
        self.lineNumber = lineNumber
        self.line = line
        self.truncatedAt = truncatedAt
    }
}

/// A named capture of a matched line.
public struct Capture: Sendable, Hashable, Codable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A case recognised in one stream, before the alert book: what the correlator hands on.
public struct CaseEvent: Sendable {
    public var caseIndex: Int
    public var knownCase: Case
    public var origin: Origin
    /// The line that completed the case (the last step of a sequence).
    public var evidence: Evidence
    /// Earlier lines of a sequence, in order.
    public var earlier: [Evidence]
    public var captures: [Capture]
    /// Seconds since the epoch: the record's own time, or when it was read.
    public var time: Double
    /// Lines of the same stream just before the evidence, oldest first.
    public var context: [String]
    /// Values the stream printed before (a helm release name...), for placeholders.
    public var streamValues: [String: String]
    /// Where the evidence record's source resumes after it.
    public var position: RecordPosition

    public init(
        caseIndex: Int, knownCase: Case, origin: Origin, evidence: Evidence, earlier: [Evidence] = [],
        captures: [Capture] = [], time: Double, context: [String] = [], streamValues: [String: String] = [:],
        position: RecordPosition = .none
    ) {
        self.caseIndex = caseIndex
        self.knownCase = knownCase
        self.origin = origin
        self.evidence = evidence
        self.earlier = earlier
        self.captures = captures
        self.time = time
        self.context = context
        self.streamValues = streamValues
        self.position = position
    }
}

/// An alert notification, as every sink gets it (docs/ALERT-SCHEMA.md): a case recognised in a
/// log, the evidence, what to do, and where the incident stands (first seen, count, state).
public struct Alert: Sendable {
    public enum State: String, Sendable, Codable { case firing, resolved }

    public var knownCase: Case
    public var origin: Origin
    /// The line that completed the case, the first time (the evidence stays the first line seen;
    /// repeats only raise the count).
    public var evidence: Evidence
    /// Earlier lines of a sequence, in order.
    public var earlier: [Evidence]
    public var captures: [Capture]
    /// Seconds since the epoch: the evidence record's own time.
    public var time: Double
    /// Lines of the same stream just before the evidence, oldest first.
    public var context: [String]
    /// Values the stream printed before the evidence, for placeholders.
    public var streamValues: [String: String]
    /// More specific cases found in the same window that explain this generic one.
    public var supersededBy: [String]
    /// Generic cases raised earlier in the window that this case explains.
    public var explains: [String]

    public var state: State
    /// Hits of this case for this dedup key since `firstSeen`.
    public var count: Int
    public var firstSeen: Double
    public var lastSeen: Double
    public var dedupKey: String
    /// Stable for one incident: case + dedup key + first seen.
    public var alertID: String
    /// The n-th notification of the incident (1: the first firing).
    public var sequence: Int

    public var caseID: String { knownCase.id }

    /// What a receiver uses to drop a repeat: alert id, state, sequence number.
    public var eventID: String { "\(alertID)-\(state.rawValue)-\(sequence)" }

    public init(
        knownCase: Case, origin: Origin, evidence: Evidence, earlier: [Evidence] = [], captures: [Capture] = [],
        time: Double, context: [String] = [], streamValues: [String: String] = [:],
        supersededBy: [String] = [], explains: [String] = [],
        state: State = .firing, count: Int = 1, firstSeen: Double? = nil, lastSeen: Double? = nil,
        dedupKey: String? = nil, alertID: String? = nil, sequence: Int = 1
    ) {
        self.knownCase = knownCase
        self.origin = origin
        self.evidence = evidence
        self.earlier = earlier
        self.captures = captures
        self.time = time
        self.context = context
        self.streamValues = streamValues
        self.supersededBy = supersededBy
        self.explains = explains
        self.state = state
        self.count = count
        self.firstSeen = firstSeen ?? time
        self.lastSeen = lastSeen ?? time
        let key = dedupKey ?? knownCase.id
        self.dedupKey = key
        self.alertID = alertID ?? AlertBook.alertID(caseID: knownCase.id, dedupKey: key, firstSeen: firstSeen ?? time)
        self.sequence = sequence
    }

    /// The fix commands with their placeholders filled (`Placeholders`), shell-quoted.
    public var fixCommands: [String] {
        knownCase.fix.commands.map { fill($0, shell: true) }
    }

    /// Fills `{name}` placeholders: from the captures, else the origin, else the values the
    /// stream printed before, else a neutral `<name>`. With `shell`, filled values are quoted
    /// for a POSIX shell where they need it.
    public func fill(_ text: String, shell: Bool = false) -> String {
        Placeholders.fill(text, shell: shell) { name in
            if let c = captures.last(where: { $0.name == name }) { return c.value }
            if let v = origin[name] { return v }
            return streamValues[name]
        }
    }
}

extension Alert {
    /// Namespace / pod / container, node, unit (or syslog identifier) and host: where the
    /// incident is, when the source says; nil when it says none of these.
    public func place(in language: Language) -> String? {
        func zh(_ s: String, _ en: String) -> String { language == .zh ? s : en }
        let o = origin
        var parts: [String] = []
        if let ns = o.namespace { parts.append(zh("命名空间 \(ns)", "namespace \(ns)")) }
        if let pod = o.pod { parts.append("pod \(pod)") }
        if let c = o.container { parts.append(zh("容器 \(c)", "container \(c)")) }
        if let node = o.node { parts.append(zh("节点 \(node)", "node \(node)")) }
        if let unit = o.unit { parts.append("unit \(unit)") } else if let id = o.identifier { parts.append(id) }
        if let host = o.host { parts.append(zh("主机 \(host)", "host \(host)")) }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
}
