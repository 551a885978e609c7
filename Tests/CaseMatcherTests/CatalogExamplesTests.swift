import Alerting
import CaseCatalog
import CaseMatcher
import TestSupport
import Testing

/// The catalog is test data: every example of every case runs against the compiled database
/// and against PCRE2 alone, through the correlator, and both must give the case's own answer.
@Suite struct CatalogExamplesTests {
    static let caseIDs = Builtin.catalog.cases.map(\.id)

    @Test(arguments: caseIDs)
    func examplesFireTheirOwnCaseOnly(id: String) throws {
        let c = try #require(Builtin.catalog[id])
        let failures = try ExampleCheck(compiled: Builtin.compiled).check(c)
        #expect(failures.isEmpty, "\(failures.map(\.description).joined(separator: "\n"))")
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
                    try scanner.scan(UnsafeRawBufferPointer(start: b.baseAddress, count: n), onFailure: { throw $0 }) { seen.insert($0.pattern) }
                }
            }
            for (si, s) in c.symptoms.enumerated() {
                let id = Builtin.compiled.patterns.firstIndex { $0.caseIndex == Builtin.catalog.cases.firstIndex(where: { $0.id == c.id }) && $0.symptomIndex == si }!
                #expect(seen.contains(id), "no match example of \(c.id) matches its symptom \(s.id)")
            }
        }
    }

    @Test func capturesFillTheFixCommands() throws {
        let pipeline = try Pipeline(compiled: Builtin.compiled)
        let alerts = try pipeline.alerts(text: #"Error: UPGRADE FAILED: "bk-paas" has no deployed releases"#, origin: Origin(kind: .stdin, name: "-"))
        let alert = try #require(alerts.first { $0.caseID == "helm-no-deployed-releases" })
        #expect(alert.captures.contains(Capture(name: "release", value: "bk-paas")))
        #expect(alert.fixCommands.contains { $0.contains("bk-paas") && !$0.contains("{release}") })
    }
}
