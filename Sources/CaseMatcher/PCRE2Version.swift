import CPCRE2

/// The version string of the linked PCRE2 library, such as "10.42 2022-12-11".
/// The corresponding C function is `pcre2_config` with `PCRE2_CONFIG_VERSION`.
public var pcre2Version: String {
    // Called with no buffer, it returns the length the text needs, its NUL included.
    let length = Int(pcre2_config_8(UInt32(PCRE2_CONFIG_VERSION), nil))
    guard length > 0 else { return "unknown" }
    var buffer = [UInt8](repeating: 0, count: length)
    let written = buffer.withUnsafeMutableBytes { pcre2_config_8(UInt32(PCRE2_CONFIG_VERSION), $0.baseAddress) }
    guard written > 0 else { return "unknown" }
    return String(decoding: buffer.prefix(Int(written) - 1), as: UTF8.self)
}
