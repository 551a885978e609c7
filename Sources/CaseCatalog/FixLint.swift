import Foundation

/// One problem the fix lint found in a case.
public struct FixLintFinding: Sendable, Hashable, CustomStringConvertible {
    /// What is wrong; the raw value is the rule's id (docs/CATALOG-FORMAT.md, "Catalog lint").
    public enum Rule: String, Sendable, Hashable, CaseIterable {
        /// A command names a value of someone's install (release, pod, IP, password, mirror,
        /// app namespace) that the case does not own: it must be a `{placeholder}`.
        case literalValue = "literal-value"
        /// Chinese in a command, in its comment, or in lines for a file or a database.
        case chineseInCommand = "chinese-in-command"
        /// A command deletes, uninstalls, destroys, drops or truncates but is not `destructive`.
        case destructiveUnmarked = "destructive-unmarked"
        /// A destructive command in a step (or alternative) without a `when` condition.
        case destructiveWithoutCondition = "destructive-without-condition"
        /// A destructive command followed by another command of its step.
        case destructiveNotLast = "destructive-not-last"
        /// A `run` line that is not a shell command (a hosts entry, a YAML key, SQL, a comment).
        case notACommand = "not-a-command"
        /// `source.heading` (or an `also` heading) is not a heading of its seed, byte for byte.
        case headingNotInSeed = "heading-not-in-seed"
        /// A text marks a remark beyond the knowledge base in one language only.
        case beyondKnowledgeBaseUnpaired = "beyond-kb-unpaired"
        /// A case is less severe than a generic case it supersedes.
        case severityBelowSuperseded = "severity-below-superseded"
        /// The fix uses BlueKing 6.x tooling (bkcli, pcmd.sh, /data/install...) without `versions`.
        case versionMissing = "version-missing"
        /// `fix.owns` lists a value no command uses.
        case ownsUnused = "owns-unused"
    }

    public var caseID: String
    public var location: SourceLocation
    public var rule: Rule
    /// The field path, such as `fix.steps[1].commands[0]`.
    public var field: String
    public var message: String

    public init(caseID: String, location: SourceLocation, rule: Rule, field: String, message: String) {
        self.caseID = caseID
        self.location = location
        self.rule = rule
        self.field = field
        self.message = message
    }

    public var description: String {
        "\(location): case \(caseID): \(field): \(message) [\(rule.rawValue)]"
    }
}

/// Checks what an operator will paste: the fix commands of every case, their conditions and
/// warnings, and the texts' link to the knowledge base. The built-in catalog lints clean (a
/// test); `casewatch cases lint` runs it on anyone's catalog.
public enum FixLint {
    /// Every finding of `catalog`. `seeds` is the knowledge-base directory (../shared/seeds);
    /// without it headings are not checked.
    public static func lint(_ catalog: Catalog, seeds: String?) -> [FixLintFinding] {
        var findings: [FixLintFinding] = []
        var seedHeadings: [String: Set<[UInt8]>?] = [:]
        for c in catalog.cases {
            var linter = CaseLinter(c: c)
            linter.lintFix()
            linter.lintTexts()
            for s in c.supersedes {
                if let generic = catalog[s], c.severity < generic.severity {
                    linter.add(.severityBelowSuperseded, "severity", c.location,
                        "\(c.severity.rawValue) is less than the \(generic.severity.rawValue) of \(s), which this case supersedes (explains)")
                }
            }
            // casewatch's own cases (Patterns/casewatch.yaml) come from no seed.
            if let seeds, c.source.seed != Case.ownSeed {
                var references = [("source.heading", c.source.seed, c.source.heading)]
                for (i, also) in c.source.also.enumerated() {
                    let parts = also.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                    references.append(("source.also[\(i)]", String(parts[0]), parts.count == 2 ? String(parts[1]) : ""))
                }
                for (field, seed, heading) in references {
                    if seedHeadings[seed] == nil { seedHeadings[seed] = .some(headings(inSeed: (seeds as NSString).appendingPathComponent(seed))) }
                    guard let known = seedHeadings[seed] ?? nil else {
                        linter.add(.headingNotInSeed, field, c.location, "no seed file '\(seed)' in \(seeds)")
                        continue
                    }
                    if !known.contains(Array(heading.utf8)) {
                        let close = known.first { String(decoding: $0, as: UTF8.self).split(whereSeparator: \.isWhitespace) == heading.split(whereSeparator: \.isWhitespace) }
                        let hint = close.map { " (the seed's differs in white space: \"\(Self.visible(String(decoding: $0, as: UTF8.self)))\")" } ?? ""
                        linter.add(.headingNotInSeed, field, c.location, "'\(heading)' is not a heading of \(seed), byte for byte\(hint)")
                    }
                }
            }
            findings += linter.findings
        }
        return findings
    }

    /// White space other than the plain space spelled out (`\u{A0}`), so two headings that look
    /// the same show their difference.
    static func visible(_ s: String) -> String {
        s.unicodeScalars.map { $0 != " " && $0.properties.isWhitespace ? "\\u{\(String($0.value, radix: 16, uppercase: true))}" : String($0) }.joined()
    }

    /// The text of every `##`/`###` heading line of a seed file, as bytes; nil when unreadable.
    static func headings(inSeed path: String) -> Set<[UInt8]>? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        var result: Set<[UInt8]> = []
        for var line in [UInt8](data).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            let hashes = line.prefix { $0 == UInt8(ascii: "#") }.count
            guard (2...3).contains(hashes), line.dropFirst(hashes).first == UInt8(ascii: " ") else { continue }
            result.insert(Array(line.dropFirst(hashes + 1)))
        }
        return result
    }
}

/// The checks of one case.
private struct CaseLinter {
    let c: Case
    var findings: [FixLintFinding] = []

    init(c: Case) { self.c = c }

    mutating func add(_ rule: FixLintFinding.Rule, _ field: String, _ location: SourceLocation, _ message: String) {
        findings.append(FixLintFinding(caseID: c.id, location: location, rule: rule, field: field, message: message))
    }

    /// BlueKing 6.x binary-deployment tooling.
    static let sixXMarkers = ["bkcli", "pcmd.sh", "/data/install", "/data/bkce", "load_env.sh"]

    mutating func lintFix() {
        var everything = ""
        for (i, step) in c.fix.steps.enumerated() {
            lint(step, "fix.steps[\(i)]", inherited: nil, everything: &everything)
        }
        for value in c.fix.owns where !everything.contains(value) {
            add(.ownsUnused, "fix.owns", c.location, "'\(value)' is owned but no command uses it")
        }
        if c.fix.versions.isEmpty {
            let texts = c.texts.map { $0.text.en + "\n" + $0.text.zh }.joined(separator: "\n") + everything
            if let marker = Self.sixXMarkers.first(where: { texts.contains($0) }) {
                add(.versionMissing, "fix.versions", c.location,
                    "the fix uses BlueKing 6.x tooling ('\(marker)'): say which versions it is for (versions: [\"6.x\"])")
            }
        }
    }

    private mutating func lint(_ step: Case.Fix.Step, _ field: String, inherited: Localized?, everything: inout String) {
        let condition = step.when ?? inherited
        for (k, command) in step.commands.enumerated() {
            let path = "\(field).commands[\(k)]"
            let at = command.location
            let lines: [String]
            switch command.body {
            case .shell(let text):
                lines = [text]
                lintShell(text, path, at)
            case .file(let p, let l):
                lines = [p] + l
            case .sql(let d, let l):
                lines = [d] + l
            }
            everything += lines.joined(separator: "\n") + "\n"
            for line in lines {
                if let cjk = line.unicodeScalars.first(where: Self.isCJK) {
                    add(.chineseInCommand, path, at, "Chinese ('\(cjk)') in \"\(line)\": commands and their comments are shown as they are in English output too; use a {placeholder} or say it in the step's text")
                }
                lintLiterals(line, path, at)
            }
            if command.isDestructive {
                if condition == nil {
                    add(.destructiveWithoutCondition, path, at, "a destructive command needs its step (or alternative) to say when to run it (when: {en, zh})")
                }
                if k < step.commands.count - 1 {
                    add(.destructiveNotLast, path, at, "a destructive command comes last in its step: put what follows it in the next step")
                }
            } else {
                let verb: String?
                switch command.body {
                case .shell(let text): verb = Self.destructiveVerb(text, sql: false)
                case .sql(_, let l): verb = l.lazy.compactMap { Self.destructiveVerb($0, sql: true) }.first
                case .file: verb = nil
                }
                if let verb {
                    add(.destructiveUnmarked, path, at, "'\(verb)' destroys something: mark the command 'destructive: true' with a warning, and give its step a 'when'")
                }
            }
        }
        for (j, alternative) in step.alternatives.enumerated() {
            lint(alternative, "\(field).alternatives[\(j)]", inherited: condition, everything: &everything)
        }
    }

    mutating func lintTexts() {
        let marker = Case.beyondKnowledgeBaseMarker
        for (field, text) in c.texts {
            let en = Case.remarks(in: text.en, marker: marker.en).count
            let zh = Case.remarks(in: text.zh, marker: marker.zh).count
            if en != zh {
                add(.beyondKnowledgeBaseUnpaired, field, c.location,
                    "\(en) remark(s) marked \"\(marker.en)\" in English but \(zh) marked \"\(marker.zh)\" in Chinese")
            }
        }
    }

    // MARK: Shell commands

    private mutating func lintShell(_ text: String, _ path: String, _ at: SourceLocation) {
        let firstLine = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
        let trimmed = firstLine.trimmingCharacters(in: .whitespaces)
        let first = trimmed.split(separator: " ").first.map(String.init) ?? ""
        var problem: String?
        if trimmed.isEmpty || trimmed.hasPrefix("#") {
            problem = "only a comment"
        } else if Self.isIPv4(first) {
            problem = "a hosts-file line (an address and names): put it in a `file:` block, or write the command that adds it"
        } else if first.hasSuffix(":") {
            problem = "a configuration line ('\(first)'): put it in a `file:` block that says which file"
        } else if Self.sqlKeywords.contains(first.lowercased()) {
            problem = "an SQL statement: put it in a `sql:` block that names the database"
        } else if first.unicodeScalars.contains(where: Self.isCJK) {
            problem = "text, not a command"
        }
        if let problem {
            add(.notACommand, path, at, "\"\(firstLine)\" is not a shell command: \(problem)")
        }
        for words in Self.simpleCommands(text) {
            lintProgram(words, path, at)
        }
    }

    static let sqlKeywords: Set<String> = ["select", "update", "insert", "delete", "alter", "create", "drop", "truncate", "grant", "use"]

    private mutating func lintProgram(_ allWords: [String], _ path: String, _ at: SourceLocation) {
        var words = allWords
        while let w = words.first, w == "sudo" || w == "env" || (w.contains("=") && !w.hasPrefix("-") && w.first?.isLetter == true) {
            words.removeFirst()
        }
        guard let program = words.first.map({ ($0 as NSString).lastPathComponent }) else { return }
        let args = Array(words.dropFirst())
        switch program {
        case "kubectl":
            let positional = Self.positionals(args, valueFlags: ["-n", "--namespace", "-c", "--container", "-l", "--selector", "-o", "--output", "--context", "--kubeconfig", "-f", "--filename", "--since", "--tail", "--field-selector"])
            guard let verb = positional.first else { return }
            var pod: String?
            switch verb {
            case "logs", "exec", "attach", "port-forward", "cp":
                if let target = positional.dropFirst().first {
                    if let slash = target.firstIndex(of: "/") {
                        if ["pod", "pods", "po"].contains(String(target[..<slash])) { pod = String(target[target.index(after: slash)...]) }
                    } else {
                        pod = target
                    }
                }
            case "describe", "delete", "get", "edit":
                let rest = Array(positional.dropFirst())
                if let type = rest.first {
                    if let slash = type.firstIndex(of: "/") {
                        if ["pod", "pods", "po"].contains(String(type[..<slash])) { pod = String(type[type.index(after: slash)...]) }
                    } else if ["pod", "pods", "po"].contains(type), rest.count > 1 {
                        pod = rest[1]
                    }
                }
            default: break
            }
            if let pod { literal(pod, kind: "pod name", path, at) }
        case "helm":
            let positional = Self.positionals(args, valueFlags: ["-n", "--namespace", "--kube-context", "--kubeconfig", "-o", "--output", "--timeout", "--revision", "-f", "--values", "--set", "--version", "--max"])
            guard let verb = positional.first else { return }
            var release: String?
            switch verb {
            case "uninstall", "delete", "del", "un", "rollback", "history", "hist", "status", "upgrade", "test", "install":
                release = positional.dropFirst().first
            case "get":
                release = positional.dropFirst(2).first
            default: break
            }
            if let release { literal(release, kind: "release name", path, at) }
        case "helmfile":
            for (i, a) in args.enumerated() where a == "-l" || a == "--selector" || a.hasPrefix("--selector=") {
                let value = a.hasPrefix("--selector=") ? String(a.dropFirst("--selector=".count)) : (i + 1 < args.count ? args[i + 1] : "")
                for part in value.split(separator: ",") where part.hasPrefix("name=") {
                    literal(String(part.dropFirst(5)), kind: "release name", path, at)
                }
            }
        default: break
        }
        if allWords.contains(where: { ["mysql", "mysqldump", "mysqladmin"].contains(($0 as NSString).lastPathComponent) }) {
            for a in allWords {
                var value: Substring?
                if a.hasPrefix("--password=") { value = a.dropFirst("--password=".count) }
                else if a.hasPrefix("-p"), a.count > 2, !a.hasPrefix("--") { value = a.dropFirst(2) }
                if let value, !Self.isVariable(value) {
                    add(.literalValue, path, at, "password '\(value)' written in the command: use a {placeholder}, never a password")
                }
            }
        }
        for a in allWords {
            guard let r = a.range(of: "docker://") else { continue }
            let host = a[r.upperBound...].prefix { $0 != "/" }
            if !host.isEmpty { literal(String(host), kind: "registry or mirror", path, at) }
        }
    }

    /// A value named in a command: fine when it is a placeholder or a variable, or owned.
    private mutating func literal(_ value: String, kind: String, _ path: String, _ at: SourceLocation) {
        if Self.isVariable(Substring(value)) || c.fix.owns.contains(value) { return }
        add(.literalValue, path, at, "\(kind) '\(value)' is a value of one install, not of this case: use a {placeholder} (or list it in fix.owns if every install has it)")
    }

    /// Every line (file lines included): addresses and app namespaces.
    private mutating func lintLiterals(_ line: String, _ path: String, _ at: SourceLocation) {
        for word in line.split(whereSeparator: { !($0.isNumber || $0 == ".") }) {
            let w = String(word)
            guard Self.isIPv4(w), w != "127.0.0.1", w != "0.0.0.0" else { continue }
            // CIDR ranges (10.0.0.0/8) describe a network, not someone's host.
            if let r = line.range(of: w), line[r.upperBound...].first == "/" { continue }
            literal(w, kind: "IP address", path, at)
        }
        var rest = Substring(line)
        while let r = rest.range(of: "bkapp-") {
            let name = rest[r.lowerBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            if !name.contains("{"), name.hasSuffix("-prod") || name.hasSuffix("-stag") {
                add(.literalValue, path, at, "app namespace '\(name)' is one app's (the knowledge base's example): use {app_namespace}")
            }
            rest = rest[r.upperBound...]
        }
    }

    // MARK: Helpers

    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x2E80...0x9FFF, 0xF900...0xFAFF, 0xFF00...0xFFEF: true
        default: false
        }
    }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCIIDigitCharacter) && Int(p)! <= 255 }
    }

    /// `{name}`, `$VAR`, `${VAR}`, `"$VAR"`: filled in later, not a literal.
    static func isVariable(_ s: Substring) -> Bool {
        s.contains("{") || s.contains("$")
    }

    /// The destructive verb of a command, if any.
    static func destructiveVerb(_ text: String, sql: Bool) -> String? {
        let words = text.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }).map(String.init)
        for verb in ["delete", "uninstall", "destroy", "drop", "truncate"] where words.contains(verb) { return verb }
        if !sql {
            for command in simpleCommands(text) {
                guard let i = command.firstIndex(where: { ($0 as NSString).lastPathComponent == "rm" }) else { continue }
                for flag in command[(i + 1)...] where flag.hasPrefix("-") {
                    if flag == "--recursive" || (!flag.hasPrefix("--") && (flag.contains("r") || flag.contains("R"))) { return "rm \(flag)" }
                }
            }
        }
        return nil
    }

    /// The arguments that are not flags (nor a flag's value), up to `--`.
    static func positionals(_ args: [String], valueFlags: Set<String>) -> [String] {
        var result: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" { break }
            if a.hasPrefix("-") {
                if valueFlags.contains(a) { i += 1 }
            } else {
                result.append(a)
            }
            i += 1
        }
        return result
    }

    /// The words of each simple command of a shell line: split at `|`, `;`, `&&`, `||` and new
    /// lines, quotes removed (a rough reading, enough to find programs and their arguments).
    static func simpleCommands(_ text: String) -> [[String]] {
        var commands: [[String]] = []
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var chars = Array(text)[...]
        func endWord() {
            if inWord { words.append(word) }
            word = ""
            inWord = false
        }
        func endCommand() {
            endWord()
            if !words.isEmpty { commands.append(words) }
            words = []
        }
        while let ch = chars.popFirst() {
            if let q = quote {
                if ch == q { quote = nil } else if ch == "\\" && q == "\"", let n = chars.popFirst() { word.append(n) } else { word.append(ch) }
                continue
            }
            switch ch {
            case "'", "\"":
                quote = ch
                inWord = true
            case "\\":
                if let n = chars.popFirst(), n != "\n" { word.append(n); inWord = true }
            case " ", "\t":
                endWord()
            case "\n", ";", "|", "&", "(", ")", "`":
                endCommand()
            case "#" where !inWord:
                while let n = chars.first, n != "\n" { chars.removeFirst() }
            default:
                word.append(ch)
                inWord = true
            }
        }
        endCommand()
        return commands
    }
}
