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

    /// Matches `subject`: true on a match (the offsets are left in `data`), false when the
    /// pattern does not match. Any other outcome (the match limit, the JIT stack limit, bad
    /// input) throws: a line PCRE2 could not decide is never reported as a line without the case.
    /// The corresponding C function is `pcre2_match`.
    func match(_ subject: UnsafeRawBufferPointer, _ data: PCRE2MatchData) throws(PCRE2Error) -> Bool {
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? PCRE2MatchData.emptySubject
        var rc = pcre2_match_8(code, base, Int(subject.count), 0, 0, data.pointer, data.context)
        if rc == PCRE2_ERROR_JIT_STACKLIMIT && data.growJITStack() {
            rc = pcre2_match_8(code, base, Int(subject.count), 0, 0, data.pointer, data.context)
        }
        if rc >= 0 { return true }  // 0: ovector too small, still a match
        // No partial-match option is ever passed, so PCRE2_ERROR_PARTIAL cannot occur: if it
        // did, it would be an error like any other, not a quiet "no".
        if rc == PCRE2_ERROR_NOMATCH { return false }
        throw PCRE2Error(code: rc)
    }
}

/// The per-task state PCRE2 matches with: the match data it writes offsets into, and a match
/// context with the match limit and, once a line needed it, a JIT stack of its own. Owned by
/// one scanning task; never shared between threads.
final class PCRE2MatchData {
    nonisolated(unsafe) static let emptySubject: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    /// PCRE2's own default, made explicit: room for several backtracking steps per byte of a
    /// 1 MiB line (`^.*\bx` backtracks about once a byte over one), while a catastrophic
    /// pattern gives up after some 30 ms of JIT code.
    static let defaultMatchLimit: UInt32 = 10_000_000
    /// The JIT stack a line gets when the 32 KiB PCRE2 starts with is not enough. A repeated
    /// group takes about 32 bytes a repetition, so a 1 MiB line of one-byte repetitions fits.
    static let jitStackStart = 32 * 1024
    static let jitStackMax = 32 * 1024 * 1024

    let pointer: OpaquePointer
    let pairs: Int
    /// Passed to every `pcre2_match` with this data.
    let context: OpaquePointer
    /// Created on the first JIT stack overflow and kept: most patterns never need one, and a
    /// scratch holds match data for every pattern that had a hit, so allocating (and mapping)
    /// a stack for each up front would cost memory and mappings for nothing.
    private(set) var jitStack: OpaquePointer?

    /// The corresponding C functions are `pcre2_match_data_create`, `pcre2_match_context_create`
    /// and `pcre2_set_match_limit`.
    init(pairs: Int, matchLimit: UInt32 = defaultMatchLimit) {
        self.pairs = max(pairs, 1)
        pointer = pcre2_match_data_create_8(UInt32(self.pairs), nil)!
        context = pcre2_match_context_create_8(nil)!
        pcre2_set_match_limit_8(context, matchLimit)
    }

    deinit {
        pcre2_match_data_free_8(pointer)
        pcre2_match_context_free_8(context)
        if let jitStack { pcre2_jit_stack_free_8(jitStack) }
    }

    /// Gives the JIT code the large stack; false when it already had it (or it cannot be
    /// allocated), so the caller retries at most once.
    /// The corresponding C functions are `pcre2_jit_stack_create` and `pcre2_jit_stack_assign`.
    func growJITStack() -> Bool {
        guard jitStack == nil, let stack = pcre2_jit_stack_create_8(Self.jitStackStart, Self.jitStackMax, nil) else {
            return false
        }
        jitStack = stack
        pcre2_jit_stack_assign_8(context, nil, UnsafeMutableRawPointer(stack))
        return true
    }

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
