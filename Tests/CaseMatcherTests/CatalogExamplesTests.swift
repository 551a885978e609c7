import Alerting
import CaseCatalog
import CaseMatcher
import TestSupport
import Testing

/// The catalog is test data: every example of every case runs against the compiled database
/// and against PCRE2 alone, through the correlator, and both must give the case's own answer.
@Suite struct CatalogExamplesTests {
    static let caseIDs = Builtin.catalog.cases.map(\.id)

    private func alerts(_ text: String, _ engine: LogScanner.Engine) throws -> [Alert] {
        let scanner = try LogScanner(compiled: Builtin.compiled, engine: engine)
        return try scanner.scan(text: text, origin: Origin(kind: .file, name: "example.log"))
    }

    @Test(arguments: caseIDs)
    func examplesFireTheirOwnCaseOnly(id: String) throws {
        let c = try #require(Builtin.catalog[id])
        if c.hasLogSignature {
            #expect(c.examples.match.count >= 3, "every case needs at least 3 match examples")
        }
        for example in c.examples.match {
            let compiled = try alerts(example, .compiled)
            let reference = try alerts(example, .reference)
            #expect(compiled.map(\.caseID) == reference.map(\.caseID), "engines disagree on: \(example)")
            #expect(compiled.map(\.evidence.lineNumber) == reference.map(\.evidence.lineNumber))
            let fired = Set(compiled.map(\.caseID))
            #expect(fired.contains(id), "match example does not fire \(id): \(example)")
            let others = fired.subtracting([id]).subtracting(c.supersedes)
            #expect(others.isEmpty, "match example of \(id) also fires \(others.sorted()): \(example)")
        }
        for example in c.examples.noMatch {
            let compiled = try alerts(example, .compiled)
            let reference = try alerts(example, .reference)
            #expect(compiled.map(\.caseID) == reference.map(\.caseID), "engines disagree on: \(example)")
            #expect(!compiled.contains { $0.caseID == id }, "no_match example fires \(id): \(example)")
        }
    }

    @Test func everySymptomIsExercisedByAnExample() throws {
        // A symptom no example matches is untested: find it.
        for c in Builtin.catalog.cases {
            let scanner = try Builtin.compiled.makeScratch()
            var seen: Set<Int> = []
            for example in c.examples.match {
                var bytes = Array(example.utf8)
                try bytes.withUnsafeMutableBytes { b in
                    let n = LineSanitizer.sanitize(b)
                    try scanner.scan(UnsafeRawBufferPointer(start: b.baseAddress, count: n)) { seen.insert($0.pattern) }
                }
            }
            for (si, s) in c.symptoms.enumerated() {
                let id = Builtin.compiled.patterns.firstIndex { $0.caseIndex == Builtin.catalog.cases.firstIndex(where: { $0.id == c.id }) && $0.symptomIndex == si }!
                #expect(seen.contains(id), "no match example of \(c.id) matches its symptom \(s.id)")
            }
        }
    }

    @Test func captionFillsTheFixCommands() throws {
        let alerts = try alerts(#"Error: UPGRADE FAILED: "bk-paas" has no deployed releases"#, .compiled)
        let alert = try #require(alerts.first { $0.caseID == "helm-no-deployed-releases" })
        #expect(alert.captures.contains(Capture(name: "release", value: "bk-paas")))
        #expect(alert.fixCommands.contains { $0.contains("bk-paas") && !$0.contains("{release}") })
    }
}
