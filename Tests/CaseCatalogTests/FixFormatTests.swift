import CaseCatalog
import Foundation
import Testing

/// A case document whose `fix:` is `fix` (the block's lines after `fix:`); the fix starts at line 10.
func fixDocument(_ fix: String) -> String {
    caseDocument(id: "fix-case", regex: "boom", fix: fix)
}

/// The fix format: steps, conditions, alternatives, destructive commands, file and SQL lines.
@Suite struct FixFormatTests {
    static let full = """
          en: Summary
          zh: 概要
          versions: ["6.x", "7.1.2"]
          owns: [bk-redis-cluster]
          steps:
            - en: List them.
              zh: 列出。
              commands: ["helm list -aA", "helm history -n blueking {release}"]
            - en: "Choose:"
              zh: 二选一：
              alternatives:
                - when: {en: it worked once, zh: 曾经成功}
                  en: Roll back.
                  zh: 回滚。
                  commands: ["helm rollback -n blueking {release} {revision}"]
                - when: {en: it never worked, zh: 从未成功}
                  en: Uninstall.
                  zh: 卸载。
                  commands:
                    - run: "helm uninstall -n blueking {release}"
                      destructive: true
                      warning: {en: "uninstalls {release}", zh: "将卸载 {release}"}
            - when: {en: names do not resolve, zh: 域名无法解析}
              en: Pin the name.
              zh: 固定解析。
              commands:
                - file: /etc/hosts
                  lines: ["49.234.165.79 hub.bktencent.com"]
                - sql: devops_process
                  lines: |
                    update T set A=1;
                    update T set B=2;
        """

    @Test func readsStepsAlternativesDestructiveFileAndSQL() throws {
        let c = try #require(try CatalogLoader.parse(fixDocument(Self.full), file: "x.yaml").first)
        let fix = c.fix
        #expect(fix.text == Localized(en: "Summary", zh: "概要"))
        #expect(fix.versions == ["6.x", "7.1.2"])
        #expect(fix.owns == ["bk-redis-cluster"])
        #expect(fix.steps.count == 3)
        #expect(fix.steps[0].commands.map(\.shell) == ["helm list -aA", "helm history -n blueking {release}"])
        let choice = fix.steps[1]
        #expect(choice.commands.isEmpty && choice.alternatives.count == 2)
        #expect(choice.alternatives[0].when == Localized(en: "it worked once", zh: "曾经成功"))
        let uninstall = try #require(choice.alternatives[1].commands.first)
        #expect(uninstall.isDestructive && uninstall.warning == Localized(en: "uninstalls {release}", zh: "将卸载 {release}"))
        #expect(!choice.alternatives[0].commands[0].isDestructive)
        #expect(fix.steps[2].when?.zh == "域名无法解析")
        #expect(fix.steps[2].commands[0].body == .file(path: "/etc/hosts", lines: ["49.234.165.79 hub.bktencent.com"]))
        #expect(fix.steps[2].commands[1].body == .sql(database: "devops_process", lines: ["update T set A=1;", "update T set B=2;"]))
        #expect(fix.steps[2].commands[0].location.line == 36)
        // Every shell command, flat and in order, for callers that want only those.
        #expect(fix.commands == [
            "helm list -aA", "helm history -n blueking {release}",
            "helm rollback -n blueking {release} {revision}", "helm uninstall -n blueking {release}",
        ])
    }

    @Test func thePlainCommandListIsOneStepWithoutText() throws {
        let c = try #require(try CatalogLoader.parse(caseDocument(), file: "x.yaml").first)
        #expect(c.fix.steps.count == 1 && c.fix.steps[0].text.en.isEmpty)
        #expect(c.fix.commands == ["fix {what}"])
        #expect(Case.Fix(text: Localized(en: "f", zh: "f"), commands: ["a", "b"]).commands == ["a", "b"])
    }

    /// Each malformed fix is refused with the field and the line at fault.
    @Test(arguments: [
        ("  en: f\n  zh: f\n  commands: [a]\n  steps:\n    - {en: s, zh: s}", "fix.commands", 12, "not both"),
        ("  en: f\n  zh: f\n  steps:\n    - {en: s}", "fix.steps[0].zh", 13, "missing"),
        ("  en: f\n  zh: f\n  steps:\n    - {en: s, zh: s, colour: red}", "fix.steps[0].colour", 13, "unknown key"),
        ("  en: f\n  zh: f\n  steps:\n    - {en: s, zh: s, when: {en: w}}", "fix.steps[0].when.zh", 13, "missing"),
        ("  en: f\n  zh: f\n  steps:\n    - en: s\n      zh: s\n      commands:\n        - {run: x, destructive: true}", "fix.steps[0].commands[0].warning", 16, "what it destroys"),
        ("  en: f\n  zh: f\n  steps:\n    - en: s\n      zh: s\n      commands:\n        - {run: x, destructive: maybe, warning: {en: w, zh: w}}", "fix.steps[0].commands[0].destructive", 16, "true or false"),
        ("  en: f\n  zh: f\n  steps:\n    - en: s\n      zh: s\n      commands:\n        - {run: x, file: /etc/hosts}", "fix.steps[0].commands[0]", 16, "exactly one of run, file"),
        ("  en: f\n  zh: f\n  steps:\n    - en: s\n      zh: s\n      commands:\n        - {file: /etc/hosts}", "fix.steps[0].commands[0].lines", 16, "missing"),
        ("  en: f\n  zh: f\n  steps:\n    - en: s\n      zh: s\n      commands:\n        - {file: /etc/hosts, lines: [x], destructive: true, warning: {en: w, zh: w}}", "fix.steps[0].commands[0].destructive", 16, "not run"),
        ("  en: f\n  zh: f\n  steps:\n    - en: s\n      zh: s\n      alternatives:\n        - {en: a, zh: a}", "fix.steps[0].alternatives", 16, "at least two"),
        ("  en: f\n  zh: f\n  steps:\n    - en: s\n      zh: s\n      commands: [x]\n      alternatives:\n        - {en: a, zh: a}\n        - {en: b, zh: b}", "fix.steps[0].commands", 15, "no commands of its own"),
        ("  en: f\n  zh: f\n  steps:\n    - en: s\n      zh: s\n      alternatives:\n        - {en: a, zh: a, alternatives: []}\n        - {en: b, zh: b}", "fix.steps[0].alternatives[0].alternatives", 16, "unknown key"),
        ("  en: f\n  zh: f\n  versions: [seven]", "fix.versions[0]", 12, "not a version"),
    ])
    func refusesWithFileLineAndField(fix: String, field: String, line: Int, words: String) {
        do {
            _ = try CatalogLoader.parse(fixDocument(fix), file: "Patterns/x.yaml")
            Issue.record("expected an error for \(field)")
        } catch {
            let e = error.errors.first { $0.field == field }
            #expect(e != nil, "errors: \(error)")
            #expect(e?.location.line == line, "\(String(describing: e))")
            #expect(e?.description.contains(words) == true, "\(String(describing: e))")
            #expect(e?.description.hasPrefix("Patterns/x.yaml:\(line): case fix-case: ") == true)
        }
    }
}
