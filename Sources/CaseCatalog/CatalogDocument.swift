import Foundation
/// The catalog as Markdown, for docs/CASES.md: every case with its titles, severity, symptoms
/// and the knowledge-base heading it comes from.
public enum CatalogDocument {
    public static let beginMarker = "<!-- BEGIN GENERATED: casewatch cases docs -->"
    public static let endMarker = "<!-- END GENERATED -->"

    /// The generated block, markers included.
    public static func markdown(_ catalog: Catalog) -> String {
        var out = beginMarker + "\n\n"
        let withSignature = catalog.cases.filter(\.hasLogSignature)
        out += "\(catalog.cases.count) cases: \(withSignature.count) with a log signature, "
        out += "\(catalog.cases.count - withSignature.count) documented only (no log line shows them).\n\n"
        out += "Version: the BlueKing version a case's fix is written for; 7.x unless the case says otherwise "
        out += "(its `versions`), as the knowledge base is the 7.x one but for its 6.x FAQ.  \n"
        out += "Beyond the knowledge base: cases whose diagnosis or fix say more than their page, each such "
        out += "remark introduced by \"\(Case.beyondKnowledgeBaseMarker.en)\" / \"\(Case.beyondKnowledgeBaseMarker.zh)\".\n\n"
        out += "| id | severity | version | title (en) | 标题 (zh) | seed heading | beyond the knowledge base |\n|---|---|---|---|---|---|---|\n"
        for c in catalog.cases {
            let mark = c.hasLogSignature ? "" : " (no log signature)"
            let remarks = c.beyondKnowledgeBase.reduce(0) { $0 + $1.en.count }
            let beyond = remarks == 0 ? "" : remarks == 1 ? "1 remark" : "\(remarks) remarks"
            out += "| [`\(c.id)`](#\(c.id)) | \(c.severity.rawValue) | \(version(c)) | \(cell(c.title.en))\(mark) | \(cell(c.title.zh)) | \(cell(c.source.seed)): \(cell(c.source.heading)) | \(beyond) |\n"
        }
        let documented = catalog.cases.filter { !$0.hasLogSignature }
        if !documented.isEmpty {
            out += "\n## Cases with no log signature\n\nThese show only on a web page; `casewatch cases show ID` documents them, nothing raises them:\n\n"
            for c in documented { out += "- `\(c.id)`: \(c.title.en) / \(c.title.zh)\n" }
        }
        out += "\n## Cases\n"
        for c in catalog.cases {
            out += "\n### \(c.id)\n\n"
            out += "**\(c.title.en)** / **\(c.title.zh)**  \n"
            out += "Severity: \(c.severity.rawValue). Defined in `\(c.location.file.split(separator: "/").suffix(2).joined(separator: "/"))`.  \n"
            out += "Version: BlueKing \(version(c)).  \n"
            out += "Seed: `\(c.source.seed)` — \(c.source.heading)"
            for also in c.source.also { out += "; also `\(also)`" }
            out += "\n\n"
            let beyond = c.beyondKnowledgeBase
            if beyond.isEmpty {
                out += "Beyond the knowledge base: none marked.\n\n"
            } else {
                out += "Beyond the knowledge base:\n\n"
                for remark in beyond {
                    for (en, zh) in zip(remark.en, remark.zh) { out += "- `\(remark.field)`: \(en) / \(zh)\n" }
                }
                out += "\n"
            }
            if c.symptoms.isEmpty {
                out += "Symptoms: none (web page only).\n"
            } else {
                out += "| symptom | regex | flags | scope |\n|---|---|---|---|\n"
                for s in c.symptoms {
                    out += "| \(s.id) | `\(cell(s.regex))` | \(s.flags.contains(.caseless) ? "caseless" : "") | \(scope(s.scope)) |\n"
                }
            }
            if let t = c.trigger {
                var parts: [String] = []
                if !t.steps.isEmpty { parts.append("in order: " + t.steps.map { $0.joined(separator: " or ") }.joined(separator: " → ")) }
                if t.count > 1 { parts.append("\(t.count) times") }
                parts.append("within \(Int(t.window))s")
                if let l = t.windowLines { parts.append("at most \(l) lines apart") }
                if !t.unless.isEmpty { parts.append("unless " + t.unless.joined(separator: ", ")) }
                out += "\nTrigger: " + parts.joined(separator: ", ") + ".\n"
            }
            if !c.supersedes.isEmpty {
                out += "\nMore specific than: " + c.supersedes.map { "`\($0)`" }.joined(separator: ", ") + ".\n"
            }
        }
        return out + "\n" + endMarker + "\n"
    }

    /// `document` with its generated block replaced by a fresh one (appended when missing).
    public static func update(_ document: String, with catalog: Catalog) -> String {
        let block = markdown(catalog)
        guard let begin = document.range(of: beginMarker), let end = document.range(of: endMarker),
            begin.lowerBound < end.lowerBound
        else { return document + (document.hasSuffix("\n") ? "\n" : "\n\n") + block }
        var tail = document[end.upperBound...]
        if tail.hasPrefix("\n") { tail = tail.dropFirst() }
        return String(document[..<begin.lowerBound]) + block + tail
    }

    private static func version(_ c: Case) -> String {
        c.fix.versions.isEmpty ? "7.x" : c.fix.versions.joined(separator: ", ")
    }

    private static func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    private static func scope(_ s: Scope) -> String {
        cell(s.summary)
    }
}
