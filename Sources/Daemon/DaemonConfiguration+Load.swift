import CaseCatalog
import Foundation
import Yams

/// One thing wrong with a configuration file: where and what.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    /// The key path, such as `sources.journald.priority`.
    public var key: String
    public var message: String

    public var description: String {
        let place = line > 0 ? "\(path):\(line)" : path
        return key.isEmpty ? "\(place): \(message)" : "\(place): \(key): \(message)"
    }
}

/// Every error of a configuration file, reported together.
public struct ConfigurationErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigurationError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

extension DaemonConfiguration {
    /// Reads and checks a configuration file. `${NAME}` in a string is replaced by that
    /// environment variable (an unset one is an error). Unknown keys, wrong types and bad values
    /// are errors naming the file, the line and the key; all of them are thrown together.
    public static func load(_ path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationErrors) -> DaemonConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationErrors(errors: [ConfigurationError(path: path, line: 0, key: "", message: "Failed to read: \(error.localizedDescription)")])
        }
        return try parse(text, path: path, environment: environment)
    }

    /// Parses configuration text (the file's name is used in messages only).
    public static func parse(_ text: String, path: String, environment: [String: String] = [:]) throws(ConfigurationErrors) -> DaemonConfiguration {
        let reader = ConfigReader(path: path, environment: environment)
        var config = DaemonConfiguration()
        config.path = path
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            throw ConfigurationErrors(errors: [reader.yamlError(error, text: text)])
        } catch {
            throw ConfigurationErrors(errors: [ConfigurationError(path: path, line: 0, key: "", message: "YAML: \(error)")])
        }
        if let node { reader.read(node, into: &config) }
        reader.warnIfReadableByOthers(config)
        config.warnings = reader.warnings
        if !reader.errors.isEmpty { throw ConfigurationErrors(errors: reader.errors.sorted { $0.line < $1.line }) }
        return config
    }
}

/// Walks the YAML node tree, collecting errors instead of stopping at the first.
final class ConfigReader {
    let path: String
    let environment: [String: String]
    var errors: [ConfigurationError] = []
    var warnings: [String] = []

    init(path: String, environment: [String: String]) {
        self.path = path
        self.environment = environment
    }

    func yamlError(_ error: YamlError, text: String) -> ConfigurationError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigurationError(path: path, line: mark.line, key: "", message: "YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams names the mapping; name the line of the second key, as an editor would.
            let key = duplicates.first ?? ""
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            var seen: Int?
            var line = context.mark.line
            for (i, l) in lines.enumerated() where i + 1 >= context.mark.line {
                let trimmed = l.drop { $0 == " " || $0 == "-" }
                guard trimmed.hasPrefix("\(key):") else { continue }
                let indent = l.prefix { $0 == " " || $0 == "-" }.count
                if seen == nil { seen = indent } else if seen == indent { line = i + 1; break }
            }
            return ConfigurationError(path: path, line: line, key: duplicates.joined(separator: ", "), message: "given twice")
        default:
            return ConfigurationError(path: path, line: 0, key: "", message: "YAML: \(error)")
        }
    }

    func fail(_ node: Node?, _ key: String, _ message: String) {
        errors.append(ConfigurationError(path: path, line: node?.mark?.line ?? 0, key: key, message: message))
    }

    /// The entries of a mapping, refusing keys not in `allowed`.
    func mapping(_ node: Node, _ key: String, allowed: [String]) -> [(String, Node, Node)]? {
        if case .scalar(let s) = node, s.string.isEmpty || s.string == "~" || s.string == "null" { return [] }
        guard case .mapping(let m) = node else {
            fail(node, key, "expected a mapping (keys: \(allowed.joined(separator: ", ")))")
            return nil
        }
        var out: [(String, Node, Node)] = []
        var seen: Set<String> = []
        for (k, v) in m {
            let name = k.string ?? ""
            let full = key.isEmpty ? name : "\(key).\(name)"
            if !allowed.contains(name) {
                fail(k, full, "unknown key (allowed: \(allowed.joined(separator: ", ")))")
                continue
            }
            if !seen.insert(name).inserted {
                fail(k, full, "given twice")
                continue
            }
            out.append((name, k, v))
        }
        return out
    }

    /// A string with `${NAME}` replaced from the environment.
    func string(_ node: Node, _ key: String) -> String? {
        guard case .scalar(let s) = node else {
            fail(node, key, "expected a string")
            return nil
        }
        return substitute(s.string, node, key)
    }

    func substitute(_ text: String, _ node: Node, _ key: String) -> String? {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                fail(node, key, "unterminated ${ in '\(text)'")
                return nil
            }
            let name = String(rest[start.upperBound..<end])
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                fail(node, key, "'${\(name)}' is not an environment variable name")
                return nil
            }
            guard let value = environment[name] else {
                fail(node, key, "environment variable \(name) is not set")
                return nil
            }
            out += value
            rest = rest[rest.index(after: end)...]
        }
        return out + rest
    }

    func strings(_ node: Node, _ key: String) -> [String]? {
        guard case .sequence(let seq) = node else {
            fail(node, key, "expected a list of strings")
            return nil
        }
        var out: [String] = []
        for (i, item) in seq.enumerated() {
            guard let s = string(item, "\(key)[\(i)]") else { continue }
            out.append(s)
        }
        return out
    }

    func bool(_ node: Node, _ key: String) -> Bool? {
        switch string(node, key) {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case nil: return nil
        case let other?:
            fail(node, key, "expected true or false, got '\(other)'")
            return nil
        }
    }

    func duration(_ node: Node, _ key: String) -> Double? {
        guard let raw = string(node, key) else { return nil }
        guard let seconds = parseDuration(raw), seconds > 0 else {
            fail(node, key, "expected a duration such as 90s, 10m or 1h, got '\(raw)'")
            return nil
        }
        return seconds
    }

    func integer(_ node: Node, _ key: String, atLeast minimum: Int) -> Int? {
        guard let raw = string(node, key) else { return nil }
        guard let n = Int(raw), n >= minimum else {
            fail(node, key, "expected a whole number of at least \(minimum), got '\(raw)'")
            return nil
        }
        return n
    }

    /// Keys a later part of casewatch will read: refused clearly rather than ignored, so a
    /// configuration never looks as if it were obeyed when it is not.
    func notYet(_ keyNode: Node, _ key: String) {
        fail(keyNode, key, "not supported by this version of casewatch yet")
    }

    // MARK: - The schema

    func read(_ node: Node, into config: inout DaemonConfiguration) {
        let top = ["language", "state_dir", "patterns", "shutdown_timeout", "dedup", "context", "sources", "sinks", "metrics", "spool", "redact"]
        guard let entries = mapping(node, "", allowed: top) else { return }
        for (name, k, v) in entries {
            switch name {
            case "language":
                switch string(v, name) {
                case "auto": config.language = nil
                case let raw?:
                    if let l = Language(rawValue: raw) { config.language = l } else { fail(v, name, "'\(raw)' is not one of zh, en, auto") }
                case nil: break
                }
            case "state_dir":
                if let s = string(v, name) {
                    if s.hasPrefix("/") { config.stateDirectory = s } else { fail(v, name, "expected an absolute path, got '\(s)'") }
                }
            case "patterns": readPatterns(v, into: &config.patterns)
            case "shutdown_timeout": if let d = duration(v, name) { config.shutdownTimeout = d }
            case "dedup":
                for (key, _, value) in mapping(v, name, allowed: ["enabled", "window", "remind"]) ?? [] {
                    let full = "dedup.\(key)"
                    switch key {
                    case "enabled": if let b = bool(value, full) { config.dedup.enabled = b }
                    case "window": if let d = duration(value, full) { config.dedup.window = d }
                    default: if let d = duration(value, full) { config.dedup.remind = d }
                    }
                }
            case "context":
                for (_, _, value) in mapping(v, name, allowed: ["before"]) ?? [] {
                    if let n = integer(value, "context.before", atLeast: 0) { config.context.before = n }
                }
            case "sources": readSources(v, into: &config.sources)
            case "sinks": readSinks(v, into: &config.sinks)
            case "metrics": readMetrics(v, into: &config)
            case "spool": readSpool(v, into: &config.spool)
            default: readRedact(v, into: &config.redact)
            }
        }
        for o in config.patterns.overrides {
            for (i, s) in (o.sinks ?? []).enumerated() where !config.sinks.names.contains(s) {
                errors.append(ConfigurationError(
                    path: path, line: o.line, key: "patterns.overrides[\(i)].sinks",
                    message: "no sink named '\(s)' (configured: \(config.sinks.names.joined(separator: ", ")))"))
            }
        }
    }

    func readPatterns(_ node: Node, into p: inout DaemonConfiguration.Patterns) {
        if case .sequence = node {
            // The form before 0.2: a list of directories.
            p.dirs = strings(node, "patterns") ?? []
            warnings.append("\(path):\(node.mark?.line ?? 0): patterns: a list is the old form; write `patterns: {dirs: [...]}`")
            return
        }
        for (key, _, value) in mapping(node, "patterns", allowed: ["builtin", "dirs", "overrides"]) ?? [] {
            switch key {
            case "builtin": if let b = bool(value, "patterns.builtin") { p.builtin = b }
            case "dirs": p.dirs = strings(value, "patterns.dirs") ?? []
            default:
                guard case .sequence(let seq) = value else {
                    fail(value, "patterns.overrides", "expected a list of {case: ID, ...}")
                    continue
                }
                for (i, item) in seq.enumerated() {
                    if let o = readOverride(item, "patterns.overrides[\(i)]") { p.overrides.append(o) }
                }
            }
        }
    }

    func readOverride(_ node: Node, _ key: String) -> DaemonConfiguration.Override? {
        guard let entries = mapping(node, key, allowed: ["case", "enabled", "severity", "dedup_window", "scope", "sinks"]) else { return nil }
        var o = DaemonConfiguration.Override(caseID: "", line: node.mark?.line ?? 0)
        for (name, _, v) in entries {
            let full = "\(key).\(name)"
            switch name {
            case "case": o.caseID = string(v, full) ?? ""
            case "enabled": o.enabled = bool(v, full)
            case "severity":
                if let raw = string(v, full) {
                    if let s = Case.Severity(rawValue: raw) { o.severity = s } else {
                        fail(v, full, "'\(raw)' is not one of \(Case.Severity.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                }
            case "dedup_window": o.dedupWindow = duration(v, full)
            case "scope": o.scope = readScope(v, full)
            default: o.sinks = strings(v, full)
            }
        }
        if o.caseID.isEmpty {
            fail(node, "\(key).case", "required: the id of the case to change")
            return nil
        }
        return o
    }

    func readScope(_ node: Node, _ key: String) -> Scope? {
        guard let entries = mapping(node, key, allowed: ["source", "namespace", "pod", "container", "unit"]) else { return nil }
        var scope = Scope()
        for (name, _, v) in entries {
            let full = "\(key).\(name)"
            switch name {
            case "source":
                var kinds: Set<SourceKind> = []
                for (i, raw) in (strings(v, full) ?? []).enumerated() {
                    if let k = SourceKind(rawValue: raw) { kinds.insert(k) } else {
                        fail(v, "\(full)[\(i)]", "'\(raw)' is not one of \(SourceKind.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                }
                scope.sources = kinds
            case "namespace": scope.namespace = string(v, full).map(Glob.init)
            case "pod": scope.pod = string(v, full).map(Glob.init)
            case "container": scope.container = string(v, full).map(Glob.init)
            default: scope.unit = string(v, full).map(Glob.init)
            }
        }
        return scope
    }

    static let priorities = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    func readSources(_ node: Node, into s: inout DaemonConfiguration.Sources) {
        for (name, k, v) in mapping(node, "sources", allowed: ["journald", "kubernetes"] + Self.fileKeys) ?? [] {
            if name == "kubernetes" {
                s.kubernetes = readKubernetes(v)
                continue
            }
            if Self.fileKeys.contains(name) {
                readFiles(name, v, into: &s)
                continue
            }
            guard name == "journald" else {
                notYet(k, "sources.\(name)")
                continue
            }
            var j = DaemonConfiguration.Journald()
            for (key, _, value) in mapping(v, "sources.journald", allowed: ["units", "identifiers", "priority", "since", "directory"]) ?? [] {
                let full = "sources.journald.\(key)"
                switch key {
                case "units": j.units = strings(value, full) ?? []
                case "identifiers": j.identifiers = strings(value, full) ?? []
                case "priority":
                    if let raw = string(value, full) {
                        if let n = Int(raw), (0...7).contains(n) {
                            j.priority = n
                        } else if let n = Self.priorities.firstIndex(of: raw) {
                            j.priority = n
                        } else {
                            fail(value, full, "expected 0-7 or one of \(Self.priorities.joined(separator: ", ")), got '\(raw)'")
                        }
                    }
                case "since":
                    if let raw = string(value, full) {
                        if let since = DaemonConfiguration.Journald.Since(rawValue: raw) { j.since = since } else {
                            fail(value, full, "expected now or all, got '\(raw)'")
                        }
                    }
                default:
                    if let d = string(value, full) {
                        if d.hasPrefix("/") { j.directory = d } else { fail(value, full, "expected an absolute path, got '\(d)'") }
                    }
                }
            }
            s.journald = j
        }
    }

    func readMetrics(_ node: Node, into config: inout DaemonConfiguration) {
        guard let entries = mapping(node, "metrics", allowed: ["listen"]) else { return }
        guard let (_, _, value) = entries.first else {
            fail(node, "metrics.listen", "required: host:port to serve the metrics on, such as 127.0.0.1:9469")
            return
        }
        guard let raw = string(value, "metrics.listen") else { return }
        guard let m = DaemonConfiguration.Metrics(listen: raw) else {
            fail(value, "metrics.listen", "expected an IP address and a port 1-65535 such as 127.0.0.1:9469 or [::1]:9469, got '\(raw)'")
            return
        }
        config.metrics = m
    }

    func readSinks(_ node: Node, into s: inout DaemonConfiguration.Sinks) {
        for (name, k, v) in mapping(node, "sinks", allowed: ["console", "journald", "webhooks"]) ?? [] {
            switch name {
            case "console":
                var c = DaemonConfiguration.Console()
                for (_, _, value) in mapping(v, "sinks.console", allowed: ["format"]) ?? [] {
                    if let raw = string(value, "sinks.console.format") {
                        if let f = DaemonConfiguration.Console.Format(rawValue: raw) { c.format = f } else {
                            fail(value, "sinks.console.format", "expected text or json, got '\(raw)'")
                        }
                    }
                }
                s.console = c
            case "journald":
                _ = mapping(v, "sinks.journald", allowed: [])
                s.journald = DaemonConfiguration.JournaldSink()
            default:
                readWebhooks(v, into: &s)
            }
        }
    }
}
