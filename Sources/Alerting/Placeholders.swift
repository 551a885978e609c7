import Foundation

/// `{name}` placeholders in diagnoses, fixes and fix commands.
///
/// A placeholder is `{` + a name of letters, digits and `_` + `}`; anything else in braces
/// (`${VAR}`, `{.items[0]}`, `{}`) is left alone, so shell and jsonpath text survives. A name
/// without a value is printed as `<name>`, the same in both languages, so an operator sees at
/// once what to fill in; never as a `{name}` template.
public enum Placeholders {
    /// Replaces every placeholder by `value(name)`, or `<name>` when that is nil. With `shell`,
    /// values are quoted for a POSIX shell unless they only hold safe characters.
    public static func fill(_ text: String, shell: Bool, value: (String) -> String?) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let afterOpen = rest.index(after: open)
            // `${NAME}` is the shell's.
            let dollar = open > rest.startIndex && rest[rest.index(before: open)] == "$"
            guard !dollar, let close = rest[afterOpen...].firstIndex(of: "}") else {
                out += "{"
                rest = rest[afterOpen...]
                continue
            }
            let name = rest[afterOpen..<close]
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                out += "{"
                rest = rest[afterOpen...]
                continue
            }
            if let v = value(String(name)), !v.isEmpty {
                out += shell ? quote(v) : v
            } else {
                out += "<\(name)>"
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    /// `value` as one shell word: unchanged when it only holds characters no shell treats
    /// specially, otherwise in single quotes (a `'` inside becomes `'\''`).
    public static func quote(_ value: String) -> String {
        let safe = value.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: "/") || b == UInt8(ascii: ":") || b == UInt8(ascii: "=")
                || b == UInt8(ascii: "@") || b == UInt8(ascii: "%") || b == UInt8(ascii: "+")
                || b == UInt8(ascii: ",")
        }
        if safe && !value.isEmpty { return value }
        return "'" + value.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}
