import CaseMatcher
import Foundation
import Testing

@Suite struct SanitizerTests {
    /// The tables spell control bytes as `\r`, `\n`, `\e` (ESC) and `\a` (BEL), so a failure
    /// prints readably.
    private static func bytes(_ spelled: String) -> [UInt8] {
        let controls: [String: String] = [#"\r"#: "\r", #"\n"#: "\n", #"\e"#: "\u{1B}", #"\a"#: "\u{07}"]
        return Array(controls.reduce(spelled) { $0.replacingOccurrences(of: $1.key, with: $1.value) }.utf8)
    }

    @Test(arguments: [
        (#"status: failed\n"#, #"status: failed\n"#),
        (#"a\r\nb\r\nc\r"#, #"a\nb\nc"#),
        (#"\e[31merror\e[0m\n"#, #"error\n"#),
        // A `\r` with only escapes (and `\r`s) after it up to the line end goes with them.
        (#"status: failed\r\e[0m\n"#, #"status: failed\n"#),
        (#"status: failed\r\e[0m"#, #"status: failed"#),
        (#"failed\r\e[0m\r\e[K\r\nnext\n"#, #"failed\nnext\n"#),
        (#"failed\r\r\n"#, #"failed\n"#),
        (#"title\r\e]0;window title\a\n"#, #"title\n"#),
        (#"failed\e[0m\r\n"#, #"failed\n"#),
        // A `\r` followed by text on the same line is a redraw: kept.
        (#"50%\r100%\n"#, #"50%\r100%\n"#),
        (#"50%\r\e[2K100%\n"#, #"50%\r100%\n"#),
        (#"a\r\e[0mb\r\e[0m\n"#, #"a\rb\n"#),
    ])
    func removesEscapesAndCarriageReturnsAtLineEnds(input: String, output: String) {
        var text = Self.bytes(input)
        let n = text.withUnsafeMutableBytes { LineSanitizer.sanitize($0) }
        #expect(Array(text[0..<n]) == Self.bytes(output))
    }

    /// Regression: `status: failed\r\e[0m` kept its `\r` (the reset came between it and the
    /// newline), so `failed$` did not match.
    @Test func aCarriageReturnBeforeAColourResetDoesNotDefeatDollar() throws {
        let compiled = try CompiledCatalog(catalog: catalog([("failed$", [])]))
        let text = Self.bytes(#"status: failed\r\e[0m\nstatus: ok\r\e[0m\nstatus: failed\r\e[0m"#)
        #expect(try hits(compiled, .compiled, text).map(\.lineStart) == [0, 26])
        #expect(try hits(compiled, .reference, text).map(\.lineStart) == [0, 26])
    }
}
