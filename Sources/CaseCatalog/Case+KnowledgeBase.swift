import Foundation

/// What a case says beyond its knowledge-base page.
///
/// A case is the knowledge base's advice in our own words. Anything it adds (a mechanism the
/// page does not give, a step for newer software) is introduced by a marker, in both
/// languages, and runs to the end of its paragraph:
///
///     Not from the knowledge base: ingress-nginx 1.12 and later also ...
///     知识库之外：ingress-nginx 1.12 及以上还会 ...
extension Case {
    /// The markers that open a remark beyond the knowledge base.
    public static let beyondKnowledgeBaseMarker = Localized(en: "Not from the knowledge base:", zh: "知识库之外：")

    /// Every text of the case an operator reads, with where it is: title, diagnosis, fix
    /// summary, and each step's text, condition and warnings.
    public var texts: [(field: String, text: Localized)] {
        var result: [(String, Localized)] = [("title", title), ("diagnosis", diagnosis), ("fix", fix.text)]
        func add(_ step: Fix.Step, _ field: String) {
            if !step.text.en.isEmpty || !step.text.zh.isEmpty { result.append((field, step.text)) }
            if let when = step.when { result.append(("\(field).when", when)) }
            for (k, c) in step.commands.enumerated() {
                if let w = c.warning { result.append(("\(field).commands[\(k)].warning", w)) }
            }
            for (j, a) in step.alternatives.enumerated() { add(a, "\(field).alternatives[\(j)]") }
        }
        for (i, s) in fix.steps.enumerated() { add(s, "fix.steps[\(i)]") }
        return result
    }

    /// The remarks beyond the knowledge base, in order, in both languages (paired by position).
    public var beyondKnowledgeBase: [(field: String, en: [String], zh: [String])] {
        texts.compactMap { field, text in
            let en = Self.remarks(in: text.en, marker: Self.beyondKnowledgeBaseMarker.en)
            let zh = Self.remarks(in: text.zh, marker: Self.beyondKnowledgeBaseMarker.zh)
            return en.isEmpty && zh.isEmpty ? nil : (field, en, zh)
        }
    }

    /// Each marked remark of `text`: from after the marker to the end of its paragraph.
    static func remarks(in text: String, marker: String) -> [String] {
        var result: [String] = []
        var rest = Substring(text)
        while let found = rest.range(of: marker, options: marker.first?.isASCII == true ? .caseInsensitive : []) {
            let after = rest[found.upperBound...]
            let end = after.range(of: "\n\n")?.lowerBound ?? after.endIndex
            let lines = after[..<end].split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            let remark = lines.joined(separator: marker.first?.isASCII == true ? " " : "")
            result.append(remark)
            rest = after[end...]
        }
        return result
    }
}
