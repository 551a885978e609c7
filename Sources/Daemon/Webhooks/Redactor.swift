import Foundation

/// Masks credentials in the log lines a webhook quotes (the evidence, its context, the earlier
/// lines of a sequence, and the captures and fix text filled from them) before they are spooled:
/// what leaves the machine carries no password. The journald sink keeps the line as it was.
///
/// The built-in rules: URL userinfo (`https://user:pass@host` → `https://***@host`),
/// `password=` / `token=` / `secret=` style pairs (also `"key": "value"` and `key: value`),
/// `Authorization` / `Proxy-Authorization` / `X-Bkapi-Authorization` header values, `Bearer`
/// tokens, and BlueKing's `bk_app_secret` / `bk_token` values. `redact.rules` adds the
/// operator's own; a sink with `redact: false` sends the lines as they were.
public struct Redactor: @unchecked Sendable {
    struct Rule {
        var regex: NSRegularExpression
        var template: String
    }

    private let rules: [Rule]

    /// Names whose value is a secret in `name=value`, `name: value`, `"name": "value"`.
    static let secretKeys = [
        "password", "passwd", "pwd", "pass", "token", "access_token", "refresh_token", "id_token", "auth_token",
        "secret", "client_secret", "app_secret", "secret_key", "access_key", "api_key", "apikey", "api-key",
        "private_key", "bk_app_secret", "bk_token", "bk_ticket", "bk_access_token", "session", "sessionid", "credential",
        "credentials", "jwt",
    ]

    static let builtin: [(String, String)] = [
        // scheme://user:password@host → scheme://***@host
        (#"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@"']+@"#, "$1***@"),
        // Authorization-style headers, whatever their value's shape (quoted, a JSON object, the
        // rest of the line).
        (#"(?i)\b((?:x-bkapi-|proxy-)?authorization)(\\?["']?\s*[:=]\s*)(?:\\?"(?:[^"\\]|\\[^"])*\\?"|'[^']*'|\{[^}]*\}|[^\r\n,;]*)"#, "$1$2***"),
        (#"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"#, "Bearer ***"),
        // key=value, key: value, "key": "value" (also JSON inside a quoted string: \"key\": \"value\").
        (#"(?i)((?:\b|_)(?:"# + secretKeys.map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: "|")
            + #")\\?["']?\s*[=:]\s*\\?["']?)[^\s"'\\&,;}]+"#, "$1***"),
    ]

    public init(extra: [DaemonConfiguration.Redact.Rule] = []) {
        var rules: [Rule] = []
        for (pattern, template) in Self.builtin {
            rules.append(Rule(regex: try! NSRegularExpression(pattern: pattern), template: template))
        }
        for r in extra {
            if let regex = try? NSRegularExpression(pattern: r.regex) { rules.append(Rule(regex: regex, template: r.replace)) }
        }
        self.rules = rules
    }

    /// The text with every rule applied in order.
    public func redact(_ text: String) -> String {
        var s = text
        for rule in rules {
            let range = NSRange(s.startIndex..., in: s)
            s = rule.regex.stringByReplacingMatches(in: s, range: range, withTemplate: rule.template)
        }
        return s
    }
}
