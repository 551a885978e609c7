import Foundation
import Yams

/// Reads case documents from YAML, keeping the line of every node for error messages.
public enum CatalogLoader {
    /// Parses one catalog file. Throws every error found in it.
    public static func loadFile(_ path: String) throws(CatalogErrors) -> [Case] {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw CatalogErrors([CatalogError(
                    .unreadable, at: SourceLocation(file: path, line: 0), "file is not valid UTF-8")])
            }
            text = decoded
        } catch let error as CatalogErrors {
            throw error
        } catch {
            throw CatalogErrors([CatalogError(
                .unreadable, at: SourceLocation(file: path, line: 0),
                "Failed to read catalog file: \(error.localizedDescription)")])
        }
        return try parse(text, file: path)
    }

    /// Parses catalog YAML text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(CatalogErrors) -> [Case] {
        var documents: [Node] = []
        do {
            // YamlSequence stops at a syntax error and keeps it aside: check it, or the
            // documents after a broken one would vanish without a word.
            // The basic resolver: every scalar stays a string (no regex per scalar to guess types).
            var sequence = try Yams.compose_all(yaml: text, .basic)
            while let node = sequence.next() { documents.append(node) }
            if let error = sequence.error { throw error }
        } catch let error as YamlError {
            throw CatalogErrors([syntaxError(error, file: file)])
        } catch {
            throw CatalogErrors([CatalogError(.syntax, at: SourceLocation(file: file, line: 0), "\(error)")])
        }
        var cases: [Case] = []
        var errors: [CatalogError] = []
        for document in documents {
            if case .scalar(let s) = document, s.string.isEmpty || s.tag == .implicit && s.string == "~" { continue }
            var reader = DocumentReader(file: file)
            if let c = reader.readCase(document) { cases.append(c) }
            errors += reader.errors
        }
        guard errors.isEmpty else { throw CatalogErrors(errors) }
        return cases
    }

    private static func syntaxError(_ error: YamlError, file: String) -> CatalogError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return CatalogError(.syntax, at: SourceLocation(file: file, line: mark.line), "YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return CatalogError(
                .syntax, at: SourceLocation(file: file, line: context.mark.line),
                "YAML: duplicated keys \(duplicates.joined(separator: ", "))")
        default:
            return CatalogError(.syntax, at: SourceLocation(file: file, line: 0), "YAML: \(error)")
        }
    }
}

/// Walks one case document, recording errors with their field path and line.
private struct DocumentReader {
    let file: String
    var errors: [CatalogError] = []
    var caseID: String?

    init(file: String) { self.file = file }

    private func location(_ node: Node?) -> SourceLocation {
        SourceLocation(file: file, line: node?.mark?.line ?? 0)
    }

    private mutating func fail(_ node: Node?, _ field: String, _ message: String, _ code: CatalogError.Code = .invalidField) {
        errors.append(CatalogError(code, at: location(node), field: field, caseID: caseID, message))
    }

    /// A mapping's entries by key, with unknown keys reported.
    private mutating func mapping(_ node: Node, _ field: String, allowed: Set<String>) -> [String: Node]? {
        guard case .mapping(let m) = node else {
            fail(node, field, "expected a mapping")
            return nil
        }
        var result: [String: Node] = [:]
        for (key, value) in m {
            guard let name = key.string else {
                fail(key, field, "keys must be strings")
                continue
            }
            let path = field.isEmpty ? name : "\(field).\(name)"
            if !allowed.contains(name) {
                fail(key, path, "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
                continue
            }
            result[name] = value
        }
        return result
    }

    private mutating func string(_ node: Node?, _ field: String, parent: Node, required: Bool = true) -> String? {
        guard let node else {
            if required { fail(parent, field, "missing required field") }
            return nil
        }
        guard case .scalar(let s) = node else {
            fail(node, field, "expected a string")
            return nil
        }
        if required && s.string.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
            fail(node, field, "must not be empty")
            return nil
        }
        return s.string
    }

    private mutating func strings(_ node: Node?, _ field: String) -> [String] {
        guard let node else { return [] }
        if case .scalar(let s) = node { return [s.string] }
        guard case .sequence(let seq) = node else {
            fail(node, field, "expected a list of strings")
            return []
        }
        var result: [String] = []
        for (i, item) in seq.enumerated() {
            if let s = string(item, "\(field)[\(i)]", parent: node) { result.append(s) }
        }
        return result
    }

    private mutating func localized(_ node: Node?, _ field: String, parent: Node, extra: Set<String> = []) -> (Localized, [String: Node])? {
        guard let node else {
            fail(parent, field, "missing required field")
            return nil
        }
        guard let m = mapping(node, field, allowed: Set(["en", "zh"]).union(extra)) else { return nil }
        let en = string(m["en"], "\(field).en", parent: node)
        let zh = string(m["zh"], "\(field).zh", parent: node)
        guard let en, let zh else { return nil }
        return (Localized(en: en, zh: zh), m)
    }

    static let caseKeys: Set<String> = [
        "id", "title", "severity", "source", "symptoms", "trigger", "supersedes", "signature",
        "diagnosis", "fix", "examples",
    ]

    mutating func readCase(_ node: Node) -> Case? {
        // Name the case in every error, including those about keys before `id`.
        if case .mapping(let raw) = node, let id = raw["id"]?.string { caseID = id }
        guard let m = mapping(node, "", allowed: Self.caseKeys) else { return nil }
        let id = string(m["id"], "id", parent: node)
        if let id {
            caseID = id
            if !isKebabCase(id) { fail(m["id"], "id", "'\(id)' is not kebab-case (a-z, 0-9 and single dashes)") }
        }
        let title = localized(m["title"], "title", parent: node)?.0
        var severity: Case.Severity?
        if let raw = string(m["severity"], "severity", parent: node) {
            severity = Case.Severity(rawValue: raw)
            if severity == nil {
                fail(m["severity"], "severity", "'\(raw)' is not one of critical, error, warning, info")
            }
        }
        let source = readSource(m["source"], parent: node)
        let noSignature: Bool
        if let raw = string(m["signature"], "signature", parent: node, required: false) {
            noSignature = raw == "none"
            if !noSignature { fail(m["signature"], "signature", "the only value is 'none'") }
        } else {
            noSignature = false
        }
        var symptoms: [Symptom] = []
        if let node = m["symptoms"] {
            symptoms = readSymptoms(node)
        }
        if noSignature && !symptoms.isEmpty {
            fail(m["symptoms"], "symptoms", "a case with 'signature: none' has no symptoms")
        } else if !noSignature && symptoms.isEmpty && m["symptoms"] == nil {
            fail(node, "symptoms", "missing required field (or set 'signature: none' for a case with no log evidence)")
        }
        let trigger = m["trigger"].flatMap { readTrigger($0, symptoms: symptoms) }
        let supersedes = strings(m["supersedes"], "supersedes")
        let diagnosis = localized(m["diagnosis"], "diagnosis", parent: node)?.0
        let fix = readFix(m["fix"], parent: node)
        let examples = readExamples(m["examples"], parent: node, noSignature: noSignature)

        guard let id, let title, let severity, let source, let diagnosis, let fix, errors.isEmpty else {
            return nil
        }
        return Case(
            id: id, title: title, severity: severity, source: source, symptoms: symptoms,
            trigger: trigger, supersedes: supersedes, diagnosis: diagnosis, fix: fix,
            examples: examples, location: location(node))
    }

    private mutating func readFix(_ node: Node?, parent: Node) -> Case.Fix? {
        guard let (text, m) = localized(node, "fix", parent: parent, extra: ["steps", "commands", "versions", "owns"]) else {
            return nil
        }
        var fix = Case.Fix(text: text)
        if let steps = m["steps"] {
            if m["commands"] != nil {
                fail(m["commands"], "fix.commands", "a fix has either steps or a plain list of commands, not both")
            }
            guard case .sequence(let seq) = steps else {
                fail(steps, "fix.steps", "expected a list of steps")
                return nil
            }
            if seq.isEmpty { fail(steps, "fix.steps", "must not be empty (leave the key out)") }
            for (i, item) in seq.enumerated() {
                if let step = readStep(item, "fix.steps[\(i)]", allowAlternatives: true) { fix.steps.append(step) }
            }
        } else if let commands = m["commands"] {
            let list = readCommands(commands, "fix.commands")
            if !list.isEmpty {
                fix.steps = [Case.Fix.Step(text: Localized(en: "", zh: ""), commands: list, location: location(commands))]
            }
        }
        fix.versions = strings(m["versions"], "fix.versions")
        for (i, v) in fix.versions.enumerated() where !Self.isVersion(v) {
            fail(m["versions"], "fix.versions[\(i)]", "'\(v)' is not a version such as 6.x, 7.0 or 7.1.2")
        }
        fix.owns = strings(m["owns"], "fix.owns")
        return fix
    }

    /// `6`, `6.x`, `7.0`, `7.1.2`.
    static func isVersion(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty, first.allSatisfy(\.isASCIIDigitCharacter) else { return false }
        for (i, p) in parts.enumerated().dropFirst() {
            if p == "x" && i == parts.count - 1 { continue }
            if p.isEmpty || !p.allSatisfy(\.isASCIIDigitCharacter) { return false }
        }
        return true
    }

    private mutating func readStep(_ node: Node, _ field: String, allowAlternatives: Bool) -> Case.Fix.Step? {
        var allowed: Set<String> = ["when", "commands"]
        if allowAlternatives { allowed.insert("alternatives") }
        guard let (text, m) = localized(node, field, parent: node, extra: allowed) else { return nil }
        var step = Case.Fix.Step(text: text, location: location(node))
        if let w = m["when"] {
            step.when = localized(w, "\(field).when", parent: node)?.0
        }
        if let c = m["commands"] { step.commands = readCommands(c, "\(field).commands") }
        if let alternatives = m["alternatives"] {
            guard case .sequence(let seq) = alternatives else {
                fail(alternatives, "\(field).alternatives", "expected a list of alternatives")
                return step
            }
            if seq.count < 2 { fail(alternatives, "\(field).alternatives", "a choice needs at least two alternatives") }
            if m["commands"] != nil {
                fail(m["commands"], "\(field).commands", "a step with alternatives has no commands of its own: put them in a step before it")
            }
            for (i, item) in seq.enumerated() {
                if let alternative = readStep(item, "\(field).alternatives[\(i)]", allowAlternatives: false) {
                    step.alternatives.append(alternative)
                }
            }
        }
        return step
    }

    private mutating func readCommands(_ node: Node, _ field: String) -> [Case.Fix.Command] {
        guard case .sequence(let seq) = node else {
            fail(node, field, "expected a list of commands")
            return []
        }
        var result: [Case.Fix.Command] = []
        for (i, item) in seq.enumerated() {
            let path = "\(field)[\(i)]"
            if case .scalar = item {
                if let s = string(item, path, parent: node) { result.append(Case.Fix.Command(.shell(s), location: location(item))) }
                continue
            }
            guard let m = mapping(item, path, allowed: ["run", "file", "sql", "lines", "destructive", "warning"]) else { continue }
            let kinds = ["run", "file", "sql"].filter { m[$0] != nil }
            guard kinds.count == 1, let kind = kinds.first else {
                fail(item, path, "a command has exactly one of run, file (lines for a file) or sql (statements for a database)")
                continue
            }
            let body: Case.Fix.Command.Body
            if kind == "run" {
                if m["lines"] != nil { fail(m["lines"], "\(path).lines", "lines go with file or sql, not with run") }
                guard let s = string(m["run"], "\(path).run", parent: item) else { continue }
                body = .shell(s)
            } else {
                guard let target = string(m[kind], "\(path).\(kind)", parent: item) else { continue }
                guard let l = m["lines"] else {
                    fail(item, "\(path).lines", "missing required field (the lines that go into the \(kind == "file" ? "file" : "database"))")
                    continue
                }
                var lines = strings(l, "\(path).lines")
                if case .scalar = l { lines = lines.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) } }
                while lines.last?.isEmpty == true { lines.removeLast() }
                if lines.isEmpty { fail(l, "\(path).lines", "must not be empty") }
                body = kind == "file" ? .file(path: target, lines: lines) : .sql(database: target, lines: lines)
            }
            var destructive = false
            if let d = m["destructive"] {
                switch string(d, "\(path).destructive", parent: item) {
                case "true": destructive = true
                case "false": destructive = false
                default: fail(d, "\(path).destructive", "expected true or false")
                }
                if destructive, kind == "file" { fail(d, "\(path).destructive", "lines for a file are not run; only a run or sql command can be destructive") }
            }
            var warning: Localized?
            if let w = m["warning"] {
                warning = localized(w, "\(path).warning", parent: item)?.0
                if !destructive { fail(w, "\(path).warning", "a warning goes with 'destructive: true'") }
            } else if destructive {
                fail(item, "\(path).warning", "a destructive command needs a warning saying what it destroys, in both languages")
            }
            result.append(Case.Fix.Command(body, warning: destructive ? warning : nil, location: location(item)))
        }
        return result
    }

    private mutating func readSource(_ node: Node?, parent: Node) -> Case.SeedReference? {
        guard let node else {
            fail(parent, "source", "missing required field")
            return nil
        }
        guard let m = mapping(node, "source", allowed: ["seed", "heading", "also"]) else { return nil }
        let seed = string(m["seed"], "source.seed", parent: node)
        let heading = string(m["heading"], "source.heading", parent: node)
        let also = strings(m["also"], "source.also")
        guard let seed, let heading else { return nil }
        return Case.SeedReference(seed: seed, heading: heading, also: also)
    }

    private mutating func readSymptoms(_ node: Node) -> [Symptom] {
        guard case .sequence(let seq) = node else {
            fail(node, "symptoms", "expected a list")
            return []
        }
        var result: [Symptom] = []
        var seen: Set<String> = []
        for (i, item) in seq.enumerated() {
            let field = "symptoms[\(i)]"
            guard let m = mapping(item, field, allowed: ["id", "regex", "flags", "scope"]) else { continue }
            guard let id = string(m["id"], "\(field).id", parent: item) else { continue }
            if !isKebabCase(id) { fail(m["id"], "\(field).id", "'\(id)' is not kebab-case") }
            if !seen.insert(id).inserted { fail(m["id"], "\(field).id", "duplicate symptom id '\(id)'") }
            guard let regex = string(m["regex"], "\(field).regex", parent: item) else { continue }
            if let problem = Self.unsupportedConstruct(in: regex) {
                fail(m["regex"], "\(field).regex", problem, .invalidPattern)
            }
            var flags: Symptom.Flags = []
            for (j, name) in strings(m["flags"], "\(field).flags").enumerated() {
                if let flag = Symptom.Flags.names.first(where: { $0.0 == name })?.1 {
                    flags.insert(flag)
                } else {
                    fail(m["flags"], "\(field).flags[\(j)]", "unknown flag '\(name)' (allowed: caseless)")
                }
            }
            let scope = m["scope"].map { readScope($0, field: "\(field).scope") } ?? Scope()
            result.append(Symptom(id: id, regex: regex, flags: flags, scope: scope, location: location(m["regex"])))
        }
        return result
    }

    /// Constructs the two engines disagree on, or that make no sense on single lines.
    static func unsupportedConstruct(in regex: String) -> String? {
        let bytes = Array(regex.utf8)
        var i = 0
        var inClass = false
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\\"), i + 1 < bytes.count {
                let n = bytes[i + 1]
                if !inClass, [UInt8(ascii: "A"), UInt8(ascii: "z"), UInt8(ascii: "Z"), UInt8(ascii: "G"), UInt8(ascii: "K"), UInt8(ascii: "C")].contains(n) {
                    return "'\\\(Character(Unicode.Scalar(n)))' is not supported: a symptom matches one line; use ^ and $"
                }
                i += 2
                continue
            }
            if b == UInt8(ascii: "[") { inClass = true }
            if b == UInt8(ascii: "]") { inClass = false }
            i += 1
        }
        return nil
    }

    private mutating func readScope(_ node: Node, field: String) -> Scope {
        guard let m = mapping(node, field, allowed: ["source", "namespace", "pod", "container", "unit"]) else {
            return Scope()
        }
        var scope = Scope()
        if let s = m["source"] {
            var kinds: Set<SourceKind> = []
            for (j, name) in strings(s, "\(field).source").enumerated() {
                if let kind = SourceKind(rawValue: name) {
                    kinds.insert(kind)
                } else {
                    fail(s, "\(field).source[\(j)]", "unknown source kind '\(name)' (allowed: \(SourceKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
            }
            scope.sources = kinds
        }
        scope.namespace = string(m["namespace"], "\(field).namespace", parent: node, required: false).map(Glob.init)
        scope.pod = string(m["pod"], "\(field).pod", parent: node, required: false).map(Glob.init)
        scope.container = string(m["container"], "\(field).container", parent: node, required: false).map(Glob.init)
        scope.unit = string(m["unit"], "\(field).unit", parent: node, required: false).map(Glob.init)
        return scope
    }

    private mutating func readTrigger(_ node: Node, symptoms: [Symptom]) -> Trigger? {
        guard let m = mapping(node, "trigger", allowed: ["sequence", "within", "within_lines", "count", "unless"]) else { return nil }
        let known = Set(symptoms.map(\.id))
        var trigger = Trigger()
        if let seq = m["sequence"] {
            guard case .sequence(let steps) = seq else {
                fail(seq, "trigger.sequence", "expected a list of steps")
                return nil
            }
            for (i, step) in steps.enumerated() {
                let ids = strings(step, "trigger.sequence[\(i)]")
                for id in ids where !known.contains(id) {
                    fail(step, "trigger.sequence[\(i)]", "no symptom '\(id)' in this case", .unresolvedReference)
                }
                trigger.steps.append(ids)
            }
        }
        if let w = m["within"] {
            if let raw = string(w, "trigger.within", parent: node), let seconds = parseDuration(raw) {
                trigger.window = seconds
            } else {
                fail(w, "trigger.within", "expected a duration such as 90s, 10m or 1h")
            }
        }
        if let l = m["within_lines"] {
            if let raw = string(l, "trigger.within_lines", parent: node), let n = Int(raw), n >= 1 {
                trigger.windowLines = n
            } else {
                fail(l, "trigger.within_lines", "expected a whole number of at least 1")
            }
        }
        if let c = m["count"] {
            if let raw = string(c, "trigger.count", parent: node), let n = Int(raw), n >= 1 {
                trigger.count = n
            } else {
                fail(c, "trigger.count", "expected a whole number of at least 1")
            }
        }
        trigger.unless = strings(m["unless"], "trigger.unless")
        for id in trigger.unless where !known.contains(id) {
            fail(m["unless"], "trigger.unless", "no symptom '\(id)' in this case", .unresolvedReference)
        }
        return trigger
    }

    private mutating func readExamples(_ node: Node?, parent: Node, noSignature: Bool) -> Case.Examples {
        guard let node else {
            if !noSignature { fail(parent, "examples", "missing required field") }
            return Case.Examples()
        }
        guard let m = mapping(node, "examples", allowed: ["match", "no_match"]) else { return Case.Examples() }
        let examples = Case.Examples(
            match: strings(m["match"], "examples.match"),
            noMatch: strings(m["no_match"], "examples.no_match"))
        if !noSignature && examples.match.isEmpty {
            fail(node, "examples.match", "a case with symptoms needs at least one match example")
        }
        if noSignature && !examples.match.isEmpty {
            fail(m["match"], "examples.match", "a case with 'signature: none' has no match examples")
        }
        return examples
    }
}

func isKebabCase(_ s: String) -> Bool {
    var previousDash = true
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): previousDash = false
        case UInt8(ascii: "-"):
            if previousDash { return false }
            previousDash = true
        default: return false
        }
    }
    return !s.isEmpty && !previousDash
}

/// `90`, `90s`, `10m`, `1h` → seconds.
public func parseDuration(_ text: String) -> Double? {
    let t = text.trimmingCharacters(in: .whitespaces)
    guard let last = t.last else { return nil }
    let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
    if let unit = units[last], let n = Double(t.dropLast()), n > 0 { return n * unit }
    if let n = Double(t), n > 0 { return n }
    return nil
}

extension Character {
    /// 0-9 only.
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
