import Testing

@testable import CaseMatcher

/// `PCRE2Pattern.match` answers yes, no, or throws: a line PCRE2 could not decide must never
/// read as a line without the case.
@Suite struct PCRE2PatternTests {
    private func match(_ regex: String, _ subject: [UInt8], matchLimit: UInt32 = PCRE2MatchData.defaultMatchLimit) throws -> Bool {
        let pattern = try PCRE2Pattern(regex, caseless: false)
        let data = PCRE2MatchData(pairs: pattern.captureCount + 1, matchLimit: matchLimit)
        return try subject.withUnsafeBytes { try pattern.match($0, data) }
    }

    @Test(arguments: [
        ("fail(ed)?", "the job failed", true),
        ("fail(ed)?", "the job passed", false),
        ("^$", "", true),
        ("(?<what>\\w+) failed", "disk failed", true),
    ])
    func yesAndNo(regex: String, subject: String, expected: Bool) throws {
        #expect(try match(regex, Array(subject.utf8)) == expected)
    }

    /// Regression: `(x+x+)+y` over a long run of `x` ran into the match limit, and the error
    /// code was taken for "no match".
    @Test func theMatchLimitIsAnErrorNotANoMatch() {
        let subject = [UInt8](repeating: UInt8(ascii: "x"), count: 50_000) + Array(" y".utf8)
        let error = #expect(throws: PCRE2Error.self) {
            try match("(x+x+)+y", subject, matchLimit: 100_000)
        }
        #expect(error?.code == -47)  // PCRE2_ERROR_MATCHLIMIT
        #expect(error?.reason.contains("match limit") == true, "\(String(describing: error))")
    }

    /// Regression: a repeated group over a 1 MiB line outgrew PCRE2's default 32 KiB JIT stack,
    /// and "JIT stack limit reached" read as "no match".
    @Test func aLongLineThatNeedsADeepJITStackStillMatches() throws {
        let a = [UInt8](repeating: UInt8(ascii: "a"), count: 1024 * 1024)
        #expect(try match("^(?:a|b)*c", a + [UInt8(ascii: "c")]) == true)
        #expect(try match("^(?:a|b)*c", a) == false)
    }

    @Test func theLibraryVersionIsKnown() {
        #expect(pcre2Version.hasPrefix("10."), "\(pcre2Version)")
    }
}
