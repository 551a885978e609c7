import Alerting
import CaseCatalog
import Foundation
import LogSources
import Testing

private func makeCase(_ id: String, supersedes: [String] = []) -> Case {
    Case(
        id: id, title: Localized(en: id, zh: id), severity: .error, source: .init(seed: "s", heading: "h"),
        symptoms: [Symptom(id: "s", regex: "x")], supersedes: supersedes,
        diagnosis: Localized(en: "d", zh: "d"), fix: .init(text: Localized(en: "f", zh: "f")))
}

private func pod(_ name: String, namespace: String = "blueking") -> Origin {
    Origin(kind: .kubectl, name: "\(namespace)/\(name)/c", namespace: namespace, pod: name, container: "c")
}

private func event(_ catalog: Catalog, _ id: String, _ origin: Origin, at time: Double, captures: [Capture] = [], line: Int = 1) -> CaseEvent {
    let i = catalog.cases.firstIndex { $0.id == id }!
    return CaseEvent(
        caseIndex: i, knownCase: catalog.cases[i], origin: origin,
        evidence: Evidence(symptomID: "s", lineNumber: line, line: "x \(line)"), captures: captures, time: time)
}

@Suite struct AlertBookTests {
    let catalog = try! Catalog(cases: [makeCase("generic"), makeCase("specific", supersedes: ["generic"])])

    @Test func aThousandHitsAreOneFiringAndOneResolvedWithTheCount() {
        let book = AlertBook(catalog: catalog)
        var out: [Alert] = []
        for i in 0..<1000 {
            out += book.record(event(catalog, "generic", pod("a-0"), at: 1000 + Double(i) * 0.06, line: i))
            out += book.record(event(catalog, "generic", pod("b-0"), at: 1000 + Double(i) * 0.06, line: i))
        }
        #expect(out.map { "\($0.origin.pod!) \($0.state) \($0.count)" } == ["a-0 firing 1", "b-0 firing 1"])
        #expect(book.earliestResolve == 1600, "a lower bound: the first hit's window")
        #expect(book.advance(to: 1000 + 59 + 599).isEmpty, "not quiet for a whole window yet")
        #expect(book.earliestResolve.map { $0 > 1000 + 59 } == true, "advancing makes it exact: the last hits' window")
        let resolved = book.advance(to: 1000 + 60 + 601)
        #expect(resolved.map { "\($0.origin.pod!) \($0.state) \($0.count)" }.sorted() == ["a-0 resolved 1000", "b-0 resolved 1000"])
        #expect(resolved.allSatisfy { r in out.contains { $0.alertID == r.alertID } }, "the resolve carries the incident's alert id")
        #expect(Set(resolved.map(\.eventID)).isDisjoint(with: out.map(\.eventID)))
        #expect(book.firing.isEmpty)
        #expect(book.earliestResolve == nil, "nothing open, nothing to wake for")
    }

    @Test func remindersCarryTheCountSoFar() {
        let book = AlertBook(catalog: catalog, options: .init(window: 600, remind: 3600))
        var out: [Alert] = []
        for minute in stride(from: 0, through: 130, by: 5) {
            out += book.record(event(catalog, "generic", pod("a-0"), at: Double(minute * 60)))
        }
        #expect(out.map(\.count) == [1, 13, 25], "at 0, at 60 min (13th hit) and at 120 min")
        #expect(out.map(\.sequence) == [1, 2, 3])
        #expect(Set(out.map(\.alertID)).count == 1)
    }

    @Test func aRepeatAfterTheWindowIsANewIncident() {
        let book = AlertBook(catalog: catalog, options: .init(window: 600))
        let first = book.record(event(catalog, "generic", pod("a-0"), at: 0))
        let later = book.record(event(catalog, "generic", pod("a-0"), at: 700))
        #expect(later.map(\.state) == [.resolved, .firing], "the old one resolves before the new one fires")
        #expect(later[0].alertID == first[0].alertID && later[1].alertID != first[0].alertID)
    }

    @Test func perCaseWindowsOverrideTheDefault() {
        let book = AlertBook(catalog: catalog, options: .init(window: 600, caseWindows: ["generic": 1800]))
        _ = book.record(event(catalog, "generic", pod("a-0"), at: 0))
        #expect(book.record(event(catalog, "generic", pod("a-0"), at: 1200)).isEmpty, "30 minutes: still the same incident")
        #expect(book.advance(to: 1200 + 1801).map(\.count) == [2])
    }

    @Test func finishReportsOnlyWhatRepeated() {
        let book = AlertBook(catalog: catalog)
        _ = book.record(event(catalog, "generic", pod("a-0"), at: 0))
        _ = book.record(event(catalog, "generic", pod("a-0"), at: 1))
        _ = book.record(event(catalog, "generic", pod("b-0"), at: 1))
        let final = book.finish()
        #expect(final.map { "\($0.origin.pod!) \($0.count) \($0.sequence) \($0.state)" } == ["a-0 2 2 firing"])
        #expect(book.finish().isEmpty, "said once")
    }

    @Test func capturesNameTheObjectInASharedLog() {
        let book = AlertBook(catalog: catalog)
        let file = Origin(kind: .file, name: "journal.txt", file: "journal.txt")
        let a = book.record(event(catalog, "generic", file, at: 0, captures: [Capture(name: "pod", value: "a-0")]))
        let b = book.record(event(catalog, "generic", file, at: 0, captures: [Capture(name: "pod", value: "b-0")]))
        let c = book.record(event(catalog, "generic", file, at: 0, captures: [Capture(name: "release", value: "bk-paas")]))
        let d = book.record(event(catalog, "generic", file, at: 0, captures: [Capture(name: "release", value: "bk-ci")]))
        #expect([a, b, c, d].map(\.count) == [1, 1, 1, 1])
        #expect(Set([a, b, c, d].map { $0[0].dedupKey }).count == 4)
        #expect(a[0].dedupKey == "generic pod:/a-0 in file:journal.txt")
    }

    @Test func supersedesLooksAcrossStreamsOfOneNamespaceOnly() {
        let book = AlertBook(catalog: catalog)
        _ = book.record(event(catalog, "generic", pod("helm-runner", namespace: "blueking"), at: 0))
        let same = book.record(event(catalog, "specific", pod("bk-es-0", namespace: "blueking"), at: 10))
        let other = book.record(event(catalog, "specific", pod("bk-es-0", namespace: "other"), at: 10))
        #expect(same.first?.explains == ["generic"])
        #expect(other.first?.explains == [])
        let late = book.record(event(catalog, "generic", pod("x-0", namespace: "other"), at: 20))
        #expect(late.first?.supersededBy == ["specific"])
    }

    @Test func withoutDedupEveryHitIsAnAlertWithItsOwnStableID() {
        func run() -> [Alert] {
            let book = AlertBook(catalog: catalog, options: .init(dedup: false))
            return (1...3).flatMap { book.record(event(catalog, "generic", pod("a-0"), at: 5, line: $0)) }
        }
        let first = run(), second = run()
        #expect(first.count == 3 && Set(first.map(\.alertID)).count == 3)
        #expect(first.map(\.eventID) == second.map(\.eventID), "a re-read gives the same ids, so receivers drop repeats")
    }

    @Test func theBookIsBoundedAndCountsWhatItResolvesEarly() {
        let book = AlertBook(catalog: catalog, options: .init(maxAlerts: 2))
        var out: [Alert] = []
        for (i, name) in ["a-0", "b-0", "c-0"].enumerated() { out += book.record(event(catalog, "generic", pod(name), at: Double(i))) }
        #expect(book.evicted == 1)
        #expect(out.last.map { "\($0.origin.pod!) \($0.state)" } == "a-0 resolved")
        #expect(book.firing.count == 2)
    }

    @Test func aRestoredBookContinuesCountingAndResolves() throws {
        let book = AlertBook(catalog: catalog)
        let fired = book.record(event(catalog, "generic", pod("a-0"), at: 0))
        _ = book.record(event(catalog, "generic", pod("a-0"), at: 5))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("book-\(UUID().uuidString).json").path
        defer { unlink(path) }
        try book.save(to: path)

        let restarted = AlertBook(catalog: catalog)
        let snapshot = try #require(try AlertBook.loadSnapshot(from: path))
        #expect(restarted.restore(snapshot) == 0)
        #expect(restarted.record(event(catalog, "generic", pod("a-0"), at: 10)).isEmpty, "a repeat, not a new alert")
        let resolved = restarted.advance(to: 10 + 601)
        #expect(resolved.map { "\($0.alertID) \($0.count) \($0.state)" } == ["\(fired[0].alertID) 3 resolved"])

        let smaller = AlertBook(catalog: try Catalog(cases: [makeCase("specific")]))
        #expect(smaller.restore(snapshot) == 1, "a case removed from the catalog ends its alert")
    }
}

@Suite struct CorrelatorBoundTests {
    @Test func streamStateIsCappedAndEvictionsCounted() throws {
        let c = Case(
            id: "seq", title: Localized(en: "t", zh: "t"), severity: .error, source: .init(seed: "s", heading: "h"),
            symptoms: [Symptom(id: "a", regex: "a"), Symptom(id: "b", regex: "b")],
            trigger: Trigger(steps: [["a"], ["b"]], window: 60),
            diagnosis: Localized(en: "d", zh: "d"), fix: .init(text: Localized(en: "f", zh: "f")))
        var correlator = Correlator(catalog: try Catalog(cases: [c]), maxEntries: 100)
        for i in 0..<1000 {
            _ = correlator.feed(SymptomEvent(caseIndex: 0, symptomIndex: 0, origin: pod("p-\(i)"), lineNumber: 1, line: "a", time: 0))
        }
        #expect(correlator.entries <= 100)
        #expect(correlator.evicted >= 900)
        // The newest streams are kept: p-999 completes its sequence.
        #expect(correlator.feed(SymptomEvent(caseIndex: 0, symptomIndex: 1, origin: pod("p-999"), lineNumber: 2, line: "b", time: 1)).count == 1)
    }

    @Test func idleStateIsDroppedAfterTheLongestWindow() throws {
        let c = Case(
            id: "seq", title: Localized(en: "t", zh: "t"), severity: .error, source: .init(seed: "s", heading: "h"),
            symptoms: [Symptom(id: "a", regex: "a"), Symptom(id: "b", regex: "b")],
            trigger: Trigger(steps: [["a"], ["b"]], window: 60),
            diagnosis: Localized(en: "d", zh: "d"), fix: .init(text: Localized(en: "f", zh: "f")))
        var correlator = Correlator(catalog: try Catalog(cases: [c]))
        for i in 0..<50 {
            _ = correlator.feed(SymptomEvent(caseIndex: 0, symptomIndex: 0, origin: pod("p-\(i)"), lineNumber: 1, line: "a", time: 0))
        }
        #expect(correlator.entries == 50)
        _ = correlator.feed(SymptomEvent(caseIndex: 0, symptomIndex: 0, origin: pod("late"), lineNumber: 1, line: "a", time: 1000))
        #expect(correlator.entries == 1)
        #expect(correlator.evicted == 0, "idle entries past every window are not evictions")
    }
}

@Suite struct PlaceholderTests {
    @Test(arguments: [
        ("helm rollback -n {namespace} {release}", ["namespace": "blueking", "release": "bk-paas"], "helm rollback -n blueking bk-paas"),
        ("helm rollback {release} {revision}", ["release": "bk paas"], "helm rollback 'bk paas' <revision>"),
        ("echo {v}", ["v": "it's"], #"echo 'it'\''s'"#),
        ("echo ${HOME} {} {.items[0]} {a-b}", [:], "echo ${HOME} {} {.items[0]} {a-b}"),
        ("kubectl get pod -o jsonpath='{.status}' {pod}", ["pod": "x-0"], "kubectl get pod -o jsonpath='{.status}' x-0"),
    ] as [(String, [String: String], String)])
    func commandsAreFilledAndQuoted(template: String, values: [String: String], expected: String) {
        #expect(Placeholders.fill(template, shell: true) { values[$0] } == expected)
    }

    @Test func proseIsFilledWithoutQuotes() {
        #expect(Placeholders.fill("release {release} in {namespace}", shell: false) { $0 == "release" ? "bk paas" : nil } == "release bk paas in <namespace>")
    }

    @Test func capturesComeBeforeTheOriginAndTheStream() {
        let c = makeCase("x")
        let a = Alert(
            knownCase: c, origin: pod("from-origin"), evidence: Evidence(symptomID: "s", lineNumber: 1, line: "l"),
            captures: [Capture(name: "release", value: "from-capture")], time: 0,
            streamValues: ["release": "from-stream", "revision": "3", "pod": "from-stream"])
        #expect(a.fill("{release} {pod} {revision} {node}") == "from-capture from-origin 3 <node>")
    }
}
