import CaseCatalog
import Foundation
import LogSources

/// The journald sink: writes each alert notification to the journal as one structured entry
/// (`sd_journal_sendv`), with the fields of docs/ALERT-SCHEMA.md ("journald fields"), and a
/// MESSAGE_ID per case so that the generated message catalog (`casewatch journal-catalog`)
/// makes `journalctl -x` print the diagnosis and fix.
///
/// The entries carry `SYSLOG_IDENTIFIER=casewatch` and an `ALERT_EVENT_ID`, by which the
/// journal source never reads them back as log lines, and by which `eventIDsWritten` finds,
/// after a restart, the notifications already written.
public final class JournalSink: Sendable {
    public static let identifier = "casewatch"

    public let language: Language

    public init(language: Language) {
        self.language = language
    }

    /// Writes one notification.
    /// The corresponding C function is `sd_journal_sendv`.
    public func write(_ alert: Alert) throws(SystemdError) {
        try JournalWriter.send(Self.fields(alert, language: language))
    }

    /// The stable MESSAGE_ID of a case: the first 128 bits of SHA-256 of `casewatch:` followed by
    /// the case id (UTF-8), as 32 lowercase hex digits. The same on every machine and in every
    /// version; `printf 'casewatch:%s' CASE_ID | sha256sum | cut -c1-32` computes it too.
    public static func messageID(caseID: String) -> String {
        String(SHA256.hex(Array("casewatch:\(caseID)".utf8)).prefix(32))
    }

    /// `CAPTURE_` and the capture's name upper-cased, anything but `A-Z0-9_` made `_`, cut at
    /// journald's 64 characters.
    public static func captureField(_ name: String) -> String {
        let upper = name.uppercased().unicodeScalars.map { s -> Character in
            (s >= "A" && s <= "Z") || (s >= "0" && s <= "9") || s == "_" ? Character(s) : "_"
        }
        return String(("CAPTURE_" + String(upper)).prefix(64))
    }

    /// The entry's fields, in the order written.
    public static func fields(_ alert: Alert, language: Language) -> [(name: String, value: String)] {
        let c = alert.knownCase
        let o = alert.origin
        var f: [(name: String, value: String)] = [
            ("MESSAGE", message(alert, language: language)),
            ("MESSAGE_ID", messageID(caseID: c.id)),
            // A resolved notice is good news: info, whatever the case's severity.
            ("PRIORITY", String(alert.state == .resolved ? 6 : c.severity.syslogPriority)),
            ("SYSLOG_IDENTIFIER", identifier),
            ("CASE_ID", c.id),
            ("CASE_SEVERITY", c.severity.rawValue),
            ("CASE_TITLE", c.title.en),
            ("CASE_TITLE_ZH", c.title.zh),
            ("CASE_SYMPTOM", alert.evidence.symptomID),
            ("CASE_DIAGNOSIS", alert.fill(c.diagnosis[language]).trimmingCharacters(in: .whitespacesAndNewlines)),
            ("SOURCE_KIND", o.kind.rawValue),
            ("SOURCE_NAME", o.name),
            ("ALERT_LOCATION", alert.place(in: language) ?? o.name),
        ]
        let optional: [(String, String?)] = [
            ("SOURCE_HOST", o.host), ("K8S_NAMESPACE", o.namespace), ("K8S_POD", o.pod), ("K8S_CONTAINER", o.container),
            ("K8S_NODE", o.node), ("SOURCE_UNIT", o.unit), ("SOURCE_IDENTIFIER", o.identifier), ("SOURCE_FILE", o.file),
        ]
        for case let (name, value?) in optional { f.append((name, value)) }
        f.append(("MATCHED_LINE", alert.evidence.line))
        if alert.evidence.lineNumber > 0 { f.append(("MATCHED_LINE_NUMBER", String(alert.evidence.lineNumber))) }
        var captured: [String: Int] = [:]
        for capture in alert.captures {
            let name = captureField(capture.name)
            if let i = captured[name] {
                f[i].value = capture.value  // the last value, as in the JSON form
            } else {
                captured[name] = f.count
                f.append((name, capture.value))
            }
        }
        let commands = alert.fixCommands
        f.append(("FIX", fixText(alert, language: language)))
        if !commands.isEmpty { f.append(("FIX_COMMANDS", commands.joined(separator: "\n"))) }
        f += [
            ("ALERT_ID", alert.alertID),
            ("ALERT_EVENT_ID", alert.eventID),
            ("ALERT_STATE", alert.state.rawValue),
            ("ALERT_COUNT", String(alert.count)),
            ("ALERT_FIRST_SEEN", Timestamp.iso8601(alert.firstSeen)),
            ("ALERT_LAST_SEEN", Timestamp.iso8601(alert.lastSeen)),
        ]
        return f
    }

    /// The fix in `language` with its placeholders filled, then each command on its own line
    /// after `$ `.
    public static func fixText(_ alert: Alert, language: Language) -> String {
        let text = alert.fill(alert.knownCase.fix.text[language]).trimmingCharacters(in: .whitespacesAndNewlines)
        return ([text] + alert.fixCommands.map { "$ " + $0 }).joined(separator: "\n")
    }

    /// One readable sentence: the case, where, and what to do (a reminder says how often, a
    /// resolve that it is over).
    public static func message(_ alert: Alert, language: Language) -> String {
        let c = alert.knownCase
        let place = alert.place(in: language) ?? alert.origin.name
        let fix = firstSentence(alert.fill(c.fix.text[language]))
        let since = Timestamp.iso8601(alert.firstSeen)
        switch (language, alert.state, alert.sequence) {
        case (.en, .resolved, _):
            return "\(c.id) resolved: \(c.title.en), \(place), \(alert.count) times in all since \(since)."
        case (.zh, .resolved, _):
            return "\(c.id) 已恢复：\(c.title.zh)，\(place)，自 \(since) 起共 \(alert.count) 次。"
        case (.en, .firing, 1):
            return "\(c.id): \(c.title.en), \(place). Fix: \(fix)"
        case (.zh, .firing, 1):
            return "\(c.id)：\(c.title.zh)，\(place)。处理：\(fix)"
        case (.en, .firing, _):
            return "\(c.id): \(c.title.en), \(place), \(alert.count) times since \(since). Fix: \(fix)"
        case (.zh, .firing, _):
            return "\(c.id)：\(c.title.zh)，\(place)，自 \(since) 起已 \(alert.count) 次。处理：\(fix)"
        }
    }

    /// The first sentence of a text (whose lines may be wrapped), on one line, at most 240
    /// characters.
    static func firstSentence(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let paragraph = trimmed.components(separatedBy: "\n\n")[0]
        var s = Substring(paragraph.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " "))
        if let end = s.range(of: ". ")?.lowerBound { s = s[...end] }
        if let end = s.firstIndex(of: "。") { s = s[...end] }
        return s.count > 240 ? String(s.prefix(239)) + "…" : String(s)
    }

    /// The `ALERT_EVENT_ID`s of the notifications casewatch wrote (`SYSLOG_IDENTIFIER=casewatch`)
    /// after the entry of `cursor` and since `since` (seconds since the epoch), whichever is
    /// earlier: what the sink must not write again after a restart. Both nil: the whole journal.
    /// Reading from a little earlier than needed only finds more ids, which is harmless.
    /// `directory` nil reads the local journal, after asking journald to write out what it has
    /// received (best effort), so notifications sent just before a crash are found.
    public static func eventIDsWritten(after cursor: String?, since: Double?, directory: String?) throws(SystemdError) -> Set<String> {
        if directory == nil { try? JournalWriter.synchronize() }
        let reader: JournalReader
        if let directory { reader = try JournalReader(directory: directory) } else { reader = try JournalReader() }
        let cursorTime = cursor.flatMap(JournalCursor.init)?.time
        switch (cursor, since) {
        case (let cursor?, nil):
            if try reader.seek(after: cursor) == .invalid { try reader.seekHead() }
        case (_, let since?):
            try reader.seek(realtime: min(since, cursorTime ?? since))
        case (nil, nil):
            try reader.seekHead()
        }
        try reader.addMatch("SYSLOG_IDENTIFIER", identifier)
        var ids = Set<String>()
        while try reader.next() {
            if let id = try reader.field("ALERT_EVENT_ID") { ids.insert(id) }
        }
        return ids
    }
}
