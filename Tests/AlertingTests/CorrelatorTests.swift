import Alerting
import CaseCatalog
import Testing

/// Builds a case with the given symptoms (id → regex unused here) and trigger.
private func makeCase(_ id: String, symptoms: [String], trigger: Trigger? = nil, supersedes: [String] = []) -> Case {
    Case(
        id: id, title: Localized(en: id, zh: id), severity: .error, source: .init(seed: "s", heading: "h"),
        symptoms: symptoms.map { Symptom(id: $0, regex: $0) }, trigger: trigger, supersedes: supersedes,
        diagnosis: Localized(en: "d", zh: "d"), fix: .init(text: Localized(en: "f", zh: "f")))
}

private struct Harness {
    var correlator: Correlator
    let book: AlertBook
    let catalog: Catalog
    var line = 0

    init(_ cases: [Case]) throws {
        catalog = try Catalog(cases: cases)
        correlator = Correlator(catalog: catalog)
        book = AlertBook(catalog: catalog, options: .init(dedup: false))
    }

    /// Feeds symptom `symptom` of case `caseID` at `time` in `stream`; returns the fired case ids.
    mutating func feed(_ caseID: String, _ symptom: String, at time: Double, stream: String = "s1") -> [Alert] {
        line += 1
        let ci = catalog.cases.firstIndex { $0.id == caseID }!
        let si = catalog.cases[ci].symptoms.firstIndex { $0.id == symptom }!
        return correlator.feed(SymptomEvent(
            caseIndex: ci, symptomIndex: si, origin: Origin(kind: .file, name: stream), lineNumber: line,
            line: "\(symptom) line", time: time)).flatMap(book.record)
    }
}

@Suite struct CorrelatorTests {
    @Test func aCaseWithoutTriggerFiresOnEveryHit() throws {
        var h = try Harness([makeCase("plain", symptoms: ["a"])])
        #expect(h.feed("plain", "a", at: 0).count == 1)
        #expect(h.feed("plain", "a", at: 1).count == 1)
    }

    @Test func sequenceFiresOnlyInOrderWithinTheWindow() throws {
        var h = try Harness([makeCase("seq", symptoms: ["first", "second"], trigger: Trigger(steps: [["first"], ["second"]], window: 60))])
        #expect(h.feed("seq", "second", at: 0).isEmpty, "the second step alone does not fire")
        #expect(h.feed("seq", "first", at: 10).isEmpty)
        let alerts = h.feed("seq", "second", at: 20)
        #expect(alerts.count == 1)
        #expect(alerts.first?.earlier.map(\.symptomID) == ["first"])
        #expect(alerts.first?.evidence.symptomID == "second")
        // Out of the window: no alert.
        #expect(h.feed("seq", "first", at: 100).isEmpty)
        #expect(h.feed("seq", "second", at: 200).isEmpty)
    }

    @Test func sequenceStepsAreKeptPerStream() throws {
        var h = try Harness([makeCase("seq", symptoms: ["first", "second"], trigger: Trigger(steps: [["first"], ["second"]]))])
        #expect(h.feed("seq", "first", at: 0, stream: "pod-a").isEmpty)
        #expect(h.feed("seq", "second", at: 1, stream: "pod-b").isEmpty)
        #expect(h.feed("seq", "second", at: 2, stream: "pod-a").count == 1)
    }

    @Test func countNeedsThatManyHitsInTheWindow() throws {
        var h = try Harness([makeCase("flaky", symptoms: ["err"], trigger: Trigger(window: 300, count: 3))])
        #expect(h.feed("flaky", "err", at: 0).isEmpty)
        #expect(h.feed("flaky", "err", at: 100).isEmpty)
        #expect(h.feed("flaky", "err", at: 500).isEmpty, "the first two hits left the window")
        #expect(h.feed("flaky", "err", at: 550).isEmpty)
        let alerts = h.feed("flaky", "err", at: 600)
        #expect(alerts.count == 1)
        #expect(alerts.first?.earlier.count == 2)
    }

    @Test func unlessSuppressesWithinTheWindow() throws {
        var h = try Harness([makeCase("real", symptoms: ["a", "b", "benign"], trigger: Trigger(steps: [["a"], ["b"]], window: 60, unless: ["benign"]))])
        #expect(h.feed("real", "benign", at: 0).isEmpty)
        #expect(h.feed("real", "a", at: 1).isEmpty)
        #expect(h.feed("real", "b", at: 2).isEmpty, "suppressed by the benign line")
        #expect(h.feed("real", "a", at: 100).isEmpty)
        #expect(h.feed("real", "b", at: 101).count == 1, "the benign line is out of the window")
    }

    @Test func symptomsTheTriggerDoesNotNameFireAlone() throws {
        var h = try Harness([makeCase("mixed", symptoms: ["a", "b", "alone"], trigger: Trigger(steps: [["a"], ["b"]]))])
        #expect(h.feed("mixed", "alone", at: 0).count == 1)
    }

    @Test func anyOfStep() throws {
        var h = try Harness([makeCase("either", symptoms: ["x", "y", "end"], trigger: Trigger(steps: [["x", "y"], ["end"]]))])
        #expect(h.feed("either", "y", at: 0).isEmpty)
        #expect(h.feed("either", "end", at: 1).count == 1)
    }

    @Test func genericCaseIsMarkedWhenASpecificCaseExplainsIt() throws {
        var h = try Harness([
            makeCase("generic-timeout", symptoms: ["timeout"]),
            makeCase("specific-cause", symptoms: ["cause"], supersedes: ["generic-timeout"]),
        ])
        // Specific evidence first, then the generic summary: the generic says so.
        #expect(h.feed("specific-cause", "cause", at: 0).first?.explains == [])
        #expect(h.feed("generic-timeout", "timeout", at: 10, stream: "other").first?.supersededBy == ["specific-cause"])
        // Generic first, then the specific: the specific says it explains the generic.
        var g = try Harness(h.catalog.cases)
        #expect(g.feed("generic-timeout", "timeout", at: 0).first?.supersededBy == [])
        #expect(g.feed("specific-cause", "cause", at: 5).first?.explains == ["generic-timeout"])
        // Long after: unrelated.
        #expect(g.feed("generic-timeout", "timeout", at: 10_000).first?.supersededBy == [])
    }

    @Test func capturesOfEarlierStepsAreKept() throws {
        var h = try Harness([makeCase("seq", symptoms: ["a", "b"], trigger: Trigger(steps: [["a"], ["b"]]))])
        let ci = h.catalog.cases.startIndex
        _ = h.correlator.feed(SymptomEvent(caseIndex: ci, symptomIndex: 0, origin: Origin(kind: .stdin, name: "-"), lineNumber: 1, line: "a", captures: [Capture(name: "release", value: "bk-repo")], time: 0))
        let alert = h.correlator.feed(SymptomEvent(caseIndex: ci, symptomIndex: 1, origin: Origin(kind: .stdin, name: "-"), lineNumber: 2, line: "b", time: 1)).first
        #expect(alert?.captures == [Capture(name: "release", value: "bk-repo")])
    }
}

@Suite struct CorrelatorLineWindowTests {
    /// Regression: helmfile prints a succeeded release's "Installing it now." long before another
    /// release's timeout; pairing them named the wrong release.
    @Test func stepsFartherApartThanWithinLinesDoNotPair() throws {
        let c = makeCaseForLines()
        let catalog = try Catalog(cases: [c])
        var correlator = Correlator(catalog: catalog)
        func feed(_ symptom: Int, line: Int, release: String? = nil) -> [CaseEvent] {
            correlator.feed(SymptomEvent(
                caseIndex: 0, symptomIndex: symptom, origin: Origin(kind: .stdin, name: "-"), lineNumber: line,
                line: "l", captures: release.map { [Capture(name: "release", value: $0)] } ?? [], time: 0))
        }
        #expect(feed(0, line: 14, release: "bk-mysql").isEmpty)
        #expect(feed(1, line: 50).isEmpty, "36 lines apart: not a pair")
        #expect(feed(0, line: 53, release: "bk-elastic").isEmpty)
        let alert = try #require(feed(1, line: 54).first)
        #expect(alert.captures == [Capture(name: "release", value: "bk-elastic")])
    }

    private func makeCaseForLines() -> Case {
        Case(
            id: "release-timeout", title: Localized(en: "t", zh: "t"), severity: .warning, source: .init(seed: "s", heading: "h"),
            symptoms: [Symptom(id: "installing", regex: "i"), Symptom(id: "timeout", regex: "t")],
            trigger: Trigger(steps: [["installing"], ["timeout"]], window: 3600, windowLines: 20),
            diagnosis: Localized(en: "d", zh: "d"), fix: .init(text: Localized(en: "f", zh: "f")))
    }
}
