import CPCRE2

/// One compiled PCRE2 pattern (8-bit, byte mode, JIT when available), and the names of its
/// capture groups. Immutable after init; matching needs a `PCRE2MatchData` owned by the caller.
final class PCRE2Pattern: @unchecked Sendable {
    let code: OpaquePointer
    /// Named groups, ordered by group number.
    let names: [(name: String, group: Int)]
    let captureCount: Int

    /// The corresponding C functions are `pcre2_compile` and `pcre2_jit_compile`.
    init(_ pattern: String, caseless: Bool, jit: Bool = true) throws(PCRE2Error) {
        var errorCode: Int32 = 0
        var errorOffset: Int = 0
        let options: UInt32 = caseless ? UInt32(PCRE2_CASELESS) : 0
        let compiled = pattern.withCString { p in
            p.withMemoryRebound(to: UInt8.self, capacity: pattern.utf8.count) { bytes in
                pcre2_compile_8(bytes, Int(pattern.utf8.count), options, &errorCode, &errorOffset, nil)
            }
        }
        guard let compiled else { throw PCRE2Error(code: errorCode, offset: Int(errorOffset)) }
        code = compiled
        if jit { _ = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE)) }  // interpreter if JIT is unavailable

        var count: UInt32 = 0
        pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_CAPTURECOUNT), &count)
        captureCount = Int(count)
        var nameCount: UInt32 = 0, entrySize: UInt32 = 0
        var table: UnsafeMutablePointer<UInt8>? = nil
        pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_NAMECOUNT), &nameCount)
        pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_NAMEENTRYSIZE), &entrySize)
        pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_NAMETABLE), &table)
        var names: [(String, Int)] = []
        if let table {
            for i in 0..<Int(nameCount) {
                let entry = table + i * Int(entrySize)
                let group = Int(entry[0]) << 8 | Int(entry[1])
                names.append((String(cString: entry + 2), group))
            }
        }
        self.names = names.sorted { $0.1 < $1.1 }
    }

    deinit { pcre2_code_free_8(code) }

    /// Matches `subject`; on success returns true and leaves the offsets in `data`.
    /// The corresponding C function is `pcre2_match`.
    func match(_ subject: UnsafeRawBufferPointer, _ data: PCRE2MatchData) throws(PCRE2Error) -> Bool {
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? PCRE2MatchData.emptySubject
        let rc = pcre2_match_8(code, base, Int(subject.count), 0, 0, data.pointer, nil)
        if rc >= 0 { return true }  // 0: ovector too small, still a match
        if rc == PCRE2_ERROR_NOMATCH { return false }
        throw PCRE2Error(code: rc)
    }
}

/// The per-task match data PCRE2 writes offsets into.
final class PCRE2MatchData {
    nonisolated(unsafe) static let emptySubject: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    let pointer: OpaquePointer
    let pairs: Int

    init(pairs: Int) {
        self.pairs = max(pairs, 1)
        pointer = pcre2_match_data_create_8(UInt32(self.pairs), nil)!
    }

    deinit { pcre2_match_data_free_8(pointer) }

    /// Byte range of group `i` in the subject of the last match, or nil when unset.
    func range(_ i: Int) -> Range<Int>? {
        guard i < pairs else { return nil }
        let ovector = pcre2_get_ovector_pointer_8(pointer)!
        let start = ovector[2 * i], end = ovector[2 * i + 1]
        // PCRE2_UNSET is ~(size_t)0, which Swift sees as -1.
        if start < 0 || end < 0 { return nil }
        return Int(start)..<Int(end)
    }
}
