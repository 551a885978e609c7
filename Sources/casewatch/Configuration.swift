import CaseCatalog
import Foundation
import Yams

/// The configuration file (Config/casewatch.yaml). Unknown keys and bad values are errors that
/// name the file, the line and the key.
struct Configuration {
    static let defaultPath = "/etc/casewatch/casewatch.yaml"

    /// nil: from the locale.
    var language: Language?
    var patterns: [String] = []
    /// `context.before`: lines quoted before the evidence.
    var contextBefore: Int?

    struct Failure: Error, CustomStringConvertible {
        var path: String
        var line: Int
        var key: String
        var message: String
        var description: String { "\(path):\(line): \(key): \(message)" }
    }

    static func load(_ path: String) throws -> Configuration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Failure(path: path, line: 0, key: "", message: "Failed to read: \(error.localizedDescription)")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            throw Failure(path: path, line: 0, key: "", message: "YAML: \(error)")
        }
        var config = Configuration()
        guard let node else { return config }
        guard case .mapping(let mapping) = node else {
            throw Failure(path: path, line: node.mark?.line ?? 0, key: "", message: "expected a mapping of keys")
        }
        for (key, value) in mapping {
            let name = key.string ?? ""
            let line = key.mark?.line ?? 0
            switch name {
            case "language":
                switch value.string {
                case "auto": config.language = nil
                case let raw?: 
                    guard let l = Language(rawValue: raw) else {
                        throw Failure(path: path, line: line, key: name, message: "'\(raw)' is not one of zh, en, auto")
                    }
                    config.language = l
                case nil: throw Failure(path: path, line: line, key: name, message: "expected zh, en or auto")
                }
            case "patterns":
                guard case .sequence(let seq) = value else {
                    throw Failure(path: path, line: line, key: name, message: "expected a list of directories")
                }
                config.patterns = seq.compactMap(\.string)
            case "context":
                guard case .mapping(let m) = value else {
                    throw Failure(path: path, line: line, key: name, message: "expected a mapping such as {before: 3}")
                }
                for (k, v) in m {
                    guard k.string == "before" else {
                        throw Failure(path: path, line: k.mark?.line ?? line, key: "context.\(k.string ?? "")", message: "unknown key (allowed: before)")
                    }
                    guard let n = v.string.flatMap(Int.init), n >= 0 else {
                        throw Failure(path: path, line: k.mark?.line ?? line, key: "context.before", message: "expected a whole number of lines (0 or more)")
                    }
                    config.contextBefore = n
                }
            default:
                throw Failure(path: path, line: line, key: name, message: "unknown key (allowed: language, patterns, context)")
            }
        }
        return config
    }
}
