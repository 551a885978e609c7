import CaseCatalog
import Foundation

/// Renders the steps of a fix for people (text lines) and for machines (JSON), in the shape an
/// operator can act on at 3 a.m.: numbered steps, conditions before what they guard, labelled
/// alternatives, `$` only in front of shell commands, lines for a file or a database shown as
/// such, and a warning line in front of every destructive command.
public enum FixRenderer {
    /// The text lines of the fix's steps (not of its summary), indented to sit under the
    /// `fix` label of an alert. `fill` replaces `{name}` placeholders (commands, texts, paths).
    public static func lines(
        _ fix: Case.Fix, language: Language, fill: (String) -> String, command: ((String) -> String)? = nil
    ) -> [String] {
        withoutActuallyEscaping(fill) { fill in
            withoutActuallyEscaping(command ?? fill) { command in
                lines(fix, language: language, fill: Fill(text: fill, command: command))
            }
        }
    }

    /// Placeholders in prose (`text`) and in shell commands (`command`: values quoted for a shell).
    struct Fill {
        let text: (String) -> String
        let command: (String) -> String
        func callAsFunction(_ s: String) -> String { text(s) }
    }

    private static func lines(_ fix: Case.Fix, language: Language, fill: Fill) -> [String] {
        var out: [String] = []
        let zh = language == .zh
        if !fix.versions.isEmpty {
            let list = fix.versions.joined(separator: ", ")
            out.append(indent + (zh ? "以下步骤适用于蓝鲸 \(list)。" : "These steps are for BlueKing \(list)."))
        }
        let numbered = fix.steps.count > 1 || fix.steps.contains { !$0.text.en.isEmpty }
        for (i, step) in fix.steps.enumerated() {
            render(step, head: numbered ? "\(i + 1). " : "", at: indent, inherited: nil, language: language, fill: fill, into: &out)
        }
        return out
    }

    /// Eight spaces: under the text that follows the `fix` label.
    static let indent = String(repeating: " ", count: 8)

    private static func render(
        _ step: Case.Fix.Step, head: String, at base: String, inherited: Localized?, language: Language,
        fill: Fill, into out: inout [String]
    ) {
        let zh = language == .zh
        let body = base + String(repeating: " ", count: head.count)
        var textLines = paragraph(fill(step.text[language]))
        if let when = step.when {
            let condition = zh ? "如果\(fill(when.zh))：" : "If \(fill(when.en)):"
            out.append(base + head + condition)
            out += textLines.map { indented(body, $0) }
        } else if !textLines.isEmpty {
            out.append(base + head + textLines.removeFirst())
            out += textLines.map { indented(body, $0) }
        }
        let condition = step.when ?? inherited
        for command in step.commands {
            commandLines(command, condition: condition, at: body, language: language, fill: fill, into: &out)
        }
        for (j, alternative) in step.alternatives.enumerated() {
            let label = zh ? "方案\(chineseNumeral(j + 1))" : "Option \(Character(Unicode.Scalar(UInt8(ascii: "A") + UInt8(j))))"
            if let when = alternative.when {
                out.append(body + label + (zh ? "（如果\(fill(when.zh))）：" : " (if \(fill(when.en))):"))
            } else {
                out.append(body + label + (zh ? "：" : ":"))
            }
            let inner = body + "  "
            out += paragraph(fill(alternative.text[language])).map { indented(inner, $0) }
            for command in alternative.commands {
                commandLines(command, condition: alternative.when ?? condition, at: inner, language: language, fill: fill, into: &out)
            }
        }
    }

    private static func commandLines(
        _ command: Case.Fix.Command, condition: Localized?, at base: String, language: Language,
        fill: Fill, into out: inout [String]
    ) {
        let zh = language == .zh
        if let warning = command.warning {
            var line = base + (zh ? "⚠ 危险操作：" : "⚠ DESTRUCTIVE: ") + fill(warning[language]).trimmingTrailingPunctuation()
            if let condition {
                line += zh ? "。仅在\(fill(condition.zh))时执行：" : ". Run it only if \(fill(condition.en)):"
            } else {
                line += zh ? "。执行前务必确认：" : ". Make sure before you run it:"
            }
            out.append(line)
        }
        switch command.body {
        case .shell(let text):
            let filled = paragraph(fill.command(text), trimming: false)
            guard let first = filled.first else { return }
            out.append(base + "$ " + first)
            out += filled.dropFirst().map { base + "  " + $0 }
        case .file(let path, let lines):
            out.append(base + (zh ? "文件 \(fill(path)) 中的内容：" : "Lines for the file \(fill(path)):"))
            out += lines.map { base + "    " + fill($0) }
        case .sql(let database, let lines):
            out.append(base + (zh ? "在数据库 \(fill(database)) 中执行的 SQL：" : "SQL to run in the database \(fill(database)):"))
            out += lines.map { base + "    " + fill($0) }
        }
    }

    /// `line` after `indent`; an empty line stays empty (no trailing blanks).
    private static func indented(_ indent: String, _ line: String) -> String {
        line.isEmpty ? "" : indent + line
    }

    /// The lines of a text without its leading and trailing blank lines.
    private static func paragraph(_ text: String, trimming: Bool = true) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var s = Substring(line)
            while s.last == " " || s.last == "\t" { s = s.dropLast() }
            return String(s)
        }
        while lines.first?.isEmpty == true { lines.removeFirst() }
        while lines.last?.isEmpty == true { lines.removeLast() }
        if trimming { lines = lines.map { $0.trimmingLeadingSpaces() } }
        return lines
    }

    private static func chineseNumeral(_ n: Int) -> String {
        let digits = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]
        return n < digits.count ? digits[n] : String(n)
    }

    /// Replaces every `{name}` placeholder with `<name>`: how a fix reads before any log fills it
    /// (`casewatch cases show`).
    public static func neutral(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest.index(after: open)
            if let close = rest[after...].firstIndex(of: "}"), isPlaceholderName(rest[after..<close]) {
                out += "<" + rest[after..<close] + ">"
                rest = rest[rest.index(after: close)...]
            } else {
                out += "{"
                rest = rest[after...]
            }
        }
        return out + rest
    }

    /// `[a-z][a-z0-9_]*`: what `{name}` may hold.
    public static func isPlaceholderName(_ s: Substring) -> Bool {
        guard let first = s.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else { return false }
        return s.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
        }
    }
}

extension FixRenderer {
    /// The JSON form of a fix (key `fix` of an alert): the summary in both languages, `commands`
    /// (every shell command, filled, in order: kept for older readers) and `steps`.
    public struct JSON: Encodable, Sendable, Hashable {
        public struct Text: Encodable, Sendable, Hashable {
            public var en: String
            public var zh: String
        }

        public struct Command: Encodable, Sendable, Hashable {
            /// A shell command.
            public var run: String?
            /// The file the lines go into.
            public var file: String?
            /// The database the SQL lines run in.
            public var sql: String?
            public var lines: [String]?
            /// Present (true) only for a destructive command.
            public var destructive: Bool?
            public var warning: Text?
        }

        public struct Step: Encodable, Sendable, Hashable {
            public var en: String
            public var zh: String
            public var when: Text?
            public var commands: [Command]
            /// Do exactly one of these.
            public var alternatives: [Step]?
        }

        public var en: String
        public var zh: String
        public var commands: [String]
        public var steps: [Step]
        public var versions: [String]?
    }

    /// The fix for an alert's JSON, with `fill` applied to every text, command and line.
    public static func json(_ fix: Case.Fix, fill: (String) -> String, command shell: ((String) -> String)? = nil) -> JSON {
        func run(_ s: String) -> String { shell?(s) ?? fill(s) }
        func text(_ l: Localized) -> JSON.Text { JSON.Text(en: fill(l.en), zh: fill(l.zh)) }
        func command(_ c: Case.Fix.Command) -> JSON.Command {
            var out = JSON.Command()
            switch c.body {
            case .shell(let s): out.run = run(s)
            case .file(let path, let lines): out.file = fill(path); out.lines = lines.map { fill($0) }
            case .sql(let database, let lines): out.sql = fill(database); out.lines = lines.map { fill($0) }
            }
            if let w = c.warning { out.destructive = true; out.warning = text(w) }
            return out
        }
        func step(_ s: Case.Fix.Step) -> JSON.Step {
            JSON.Step(
                en: fill(s.text.en), zh: fill(s.text.zh), when: s.when.map(text), commands: s.commands.map { command($0) },
                alternatives: s.alternatives.isEmpty ? nil : s.alternatives.map { step($0) })
        }
        return JSON(
            en: fill(fix.text.en), zh: fill(fix.text.zh), commands: fix.commands.map { run($0) }, steps: fix.steps.map { step($0) },
            versions: fix.versions.isEmpty ? nil : fix.versions)
    }
}

extension String {
    fileprivate func trimmingLeadingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" })
    }

    /// Without a final full stop, so a sentence can follow.
    fileprivate func trimmingTrailingPunctuation() -> String {
        var s = Substring(self.trimmingCharacters(in: .whitespacesAndNewlines))
        while let last = s.last, last == "." || last == "。" { s = s.dropLast() }
        return String(s)
    }
}
