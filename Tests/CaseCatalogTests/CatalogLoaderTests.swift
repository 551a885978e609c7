import CaseCatalog
import Foundation
import TestSupport
import Testing

/// A minimal valid case document, with `extra` lines appended at the top level; `fix` is the
/// block of lines under `fix:` (line 10 on).
func caseDocument(
    id: String = "sample-case", regex: String = "boom (?<what>\\w+)", extra: String = "", examples: Bool = true,
    fix: String = "  en: Do this\n  zh: 这样做\n  commands: [\"fix {what}\"]"
) -> String {
    let examples = examples ? "examples:\n  match: [\"boom now\"]\n  no_match: [\"quiet\"]" : ""
    return """
    id: \(id)
    title: {en: Sample, zh: 示例}
    severity: error
    source: {seed: 001.txt, heading: Sample heading}
    symptoms:
      - id: boom
        regex: '\(regex)'
    diagnosis: {en: Why, zh: 原因}
    fix:
    \(fix)
    \(examples)
    \(extra)
    """
}

@Suite struct CatalogLoaderTests {
    @Test func loadsAValidDocument() throws {
        let cases = try CatalogLoader.parse(caseDocument(), file: "a.yaml")
        #expect(cases.count == 1)
        let c = try #require(cases.first)
        #expect(c.id == "sample-case")
        #expect(c.severity == .error)
        #expect(c.title.zh == "示例")
        #expect(c.symptoms.map(\.id) == ["boom"])
        #expect(c.fix.commands == ["fix {what}"])
        #expect(c.examples.match == ["boom now"])
        #expect(c.location.line == 1)
    }

    @Test func severalDocumentsInOneFile() throws {
        let text = caseDocument(id: "first-case") + "\n---\n" + caseDocument(id: "second-case")
        let cases = try CatalogLoader.parse(text, file: "a.yaml")
        #expect(cases.map(\.id) == ["first-case", "second-case"])
        #expect(cases[1].location.line > cases[0].location.line)
    }

    /// Each broken document must be refused with the field and the line at fault.
    @Test(arguments: [
        (caseDocument(extra: "colour: red"), "colour", 16, "unknown key"),
        (caseDocument().replacingOccurrences(of: "severity: error", with: "severity: fatal"), "severity", 3, "not one of"),
        (caseDocument().replacingOccurrences(of: "title: {en: Sample, zh: 示例}", with: "title: {en: Sample}"), "title.zh", 2, "missing"),
        (caseDocument(id: "Not_Kebab"), "id", 1, "kebab-case"),
        (caseDocument(regex: "line\\z"), "symptoms[0].regex", 7, "not supported"),
        (caseDocument(extra: "trigger: {sequence: [boom, bang]}"), "trigger.sequence[1]", 16, "no symptom 'bang'"),
        (caseDocument(extra: "trigger: {within: soon}"), "trigger.within", 16, "duration"),
        (caseDocument(examples: false), "examples", 1, "missing"),
    ])
    func refusesWithFileLineAndField(document: String, field: String, line: Int, words: String) {
        do {
            _ = try CatalogLoader.parse(document, file: "Patterns/x.yaml")
            Issue.record("expected an error for \(field)")
        } catch {
            let e = error.errors.first { $0.field == field }
            #expect(e != nil, "errors: \(error)")
            #expect(e?.location.file == "Patterns/x.yaml")
            #expect(e?.location.line == line, "\(String(describing: e))")
            #expect(e?.description.contains(words) == true, "\(String(describing: e))")
            #expect(e?.description.hasPrefix("Patterns/x.yaml:\(line): case ") == true)
        }
    }

    @Test func yamlSyntaxErrorNamesTheLine() {
        do {
            _ = try CatalogLoader.parse("id: a\ntitle: x: y\nseverity: error\n", file: "bad.yaml")
            Issue.record("expected a syntax error")
        } catch {
            #expect(error.errors.first?.code == .syntax)
            #expect((error.errors.first?.location.line ?? 0) >= 2)
        }
    }

    /// Regression: Yams' document sequence keeps a syntax error aside instead of throwing, so a
    /// broken second document used to drop silently and the first loaded alone.
    @Test func brokenLaterDocumentIsNotDroppedSilently() {
        let text = caseDocument(id: "first-case") + "\n---\nid: second\ntitle: x: y\n"
        do {
            let cases = try CatalogLoader.parse(text, file: "two.yaml")
            Issue.record("loaded \(cases.map(\.id)) without an error")
        } catch {
            #expect(error.errors.first?.code == .syntax)
            #expect(error.errors.first?.location.line == 19)
        }
    }

    @Test func reportsEveryErrorNotOnlyTheFirst() {
        let text = caseDocument(extra: "colour: red").replacingOccurrences(of: "severity: error", with: "severity: loud")
        do {
            _ = try CatalogLoader.parse(text, file: "x.yaml")
            Issue.record("expected errors")
        } catch {
            #expect(Set(error.errors.map(\.field)) == ["colour", "severity"])
        }
    }

    @Test func signatureNoneCasesHaveNoSymptoms() throws {
        let text = """
            id: page-only
            title: {en: Page, zh: 页面}
            severity: warning
            source: {seed: 001.txt, heading: H}
            signature: none
            diagnosis: {en: d, zh: d}
            fix: {en: f, zh: f}
            examples: {no_match: ["anything"]}
            """
        let c = try #require(try CatalogLoader.parse(text, file: "x.yaml").first)
        #expect(!c.hasLogSignature)
    }

    @Test func duplicateIDsAcrossDirectoriesAreRefused() throws {
        let a = Paths.temporaryDirectory(), b = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        try caseDocument(id: "same-case").write(to: a.appendingPathComponent("one.yaml"), atomically: true, encoding: .utf8)
        try caseDocument(id: "same-case").write(to: b.appendingPathComponent("two.yml"), atomically: true, encoding: .utf8)
        do {
            _ = try Catalog.load(directories: [a.path, b.path])
            Issue.record("expected a duplicate id error")
        } catch {
            let e = try #require(error.errors.first)
            #expect(e.code == .duplicateID)
            #expect(e.location.file.hasSuffix("two.yml"))
            #expect(e.message.contains("one.yaml"))
        }
    }

    @Test func directoriesMerge() throws {
        let a = Paths.temporaryDirectory(), b = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        try caseDocument(id: "builtin-case").write(to: a.appendingPathComponent("one.yaml"), atomically: true, encoding: .utf8)
        try caseDocument(id: "user-case").write(to: b.appendingPathComponent("mine.yaml"), atomically: true, encoding: .utf8)
        try "not a case".write(to: b.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        let catalog = try Catalog.load(directories: [a.path, b.path])
        #expect(catalog.cases.map(\.id) == ["builtin-case", "user-case"])
    }

    @Test func supersedesMustNameACase() {
        let text = caseDocument(extra: "supersedes: [no-such-case]")
        do {
            _ = try Catalog(cases: try CatalogLoader.parse(text, file: "x.yaml"))
            Issue.record("expected an unresolved reference")
        } catch {
            #expect(error.errors.first?.code == .unresolvedReference)
        }
    }

    @Test(arguments: [("90s", 90.0), ("10m", 600), ("1h", 3600), ("45", 45)])
    func durations(text: String, seconds: Double) {
        #expect(parseDuration(text) == seconds)
    }

    @Test(arguments: [
        ("bk-elastic-*", "bk-elastic-elasticsearch-data-0", true),
        ("bk-elastic-*", "bk-redis-0", false),
        ("*gateway*", "bk-repo-bkrepo-gateway-7d9", true),
        ("node?", "node1", true),
        ("node?", "node12", false),
        ("kubelet.service", "kubelet.service", true),
    ])
    func globs(pattern: String, text: String, matches: Bool) {
        #expect(Glob(pattern).matches(text) == matches)
    }

    @Test func localeChoosesTheLanguage() {
        #expect(Language.fromEnvironment(["LANG": "zh_CN.UTF-8"]) == .zh)
        #expect(Language.fromEnvironment(["LANG": "en_US.UTF-8"]) == .en)
        #expect(Language.fromEnvironment(["LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"]) == .en)
        #expect(Language.fromEnvironment([:]) == .en)
    }
}
