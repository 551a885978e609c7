import CPCRE2

/// A failure reported by PCRE2 (negative error codes), mapped in this one place.
public struct PCRE2Error: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    /// PCRE2's own text for the code.
    public var reason: String
    /// For compile errors: the byte offset in the pattern where the error was detected.
    public var offset: Int?

    init(code: Int32, offset: Int? = nil) {
        self.code = code
        self.offset = offset
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBufferPointer { pcre2_get_error_message_8(code, $0.baseAddress, 256) }
        reason = n > 0 ? String(decoding: buffer[0..<Int(n)], as: UTF8.self) : "PCRE2 error \(code)"
    }

    public var description: String {
        if let offset { return "\(reason) at offset \(offset)" }
        return reason
    }
}
