import Alerting
import CaseCatalog
import Foundation
import Testing

/// How a fix reads: numbered steps, conditions before what they guard, labelled alternatives,
/// `$` only in front of shell commands, a warning before every destructive command.
@Suite struct FixRendererTests {
    static let fix = Case.Fix(
        text: Localized(en: "Summary", zh: "概要"),
        steps: [
            .init(text: Localized(en: "List the releases.", zh: "列出 release。"), commands: [.run("helm list -aA")]),
            .init(
                text: Localized(en: "Depending on the history:", zh: "根据历史版本："),
                alternatives: [
                    .init(
                        text: Localized(en: "Roll back.", zh: "回滚。"), when: Localized(en: "a revision succeeded", zh: "有成功的版本"),
                        commands: [.run("helm rollback -n blueking {release} {revision}")]),
                    .init(
                        text: Localized(en: "Uninstall it.", zh: "卸载。"), when: Localized(en: "none ever succeeded", zh: "从未成功"),
                        commands: [.run("helm uninstall -n blueking {release}", warning: Localized(en: "uninstalls {release}.", zh: "将卸载 {release}。"))]),
                ]),
            .init(
                text: Localized(en: "Pin the name.\n\nA second paragraph.", zh: "固定解析。"), when: Localized(en: "it does not resolve", zh: "无法解析"),
                commands: [
                    Case.Fix.Command(.file(path: "/etc/hosts", lines: ["1.2.3.4 hub.example.com"])),
                    Case.Fix.Command(.sql(database: "devops_process", lines: ["update T set A=1;"])),
                    .run("for x in a b; do\necho $x\ndone"),
                ]),
        ],
        versions: ["6.x"])

    /// The test's own placeholder filling: a captured release, everything else `<name>`.
    static func fill(_ s: String) -> String {
        FixRenderer.neutral(s.replacingOccurrences(of: "{release}", with: "bk-paas"))
    }

    @Test func englishLayout() {
        let lines = FixRenderer.lines(Self.fix, language: .en, fill: Self.fill)
        #expect(lines == [
            "        These steps are for BlueKing 6.x.",
            "        1. List the releases.",
            "           $ helm list -aA",
            "        2. Depending on the history:",
            "           Option A (if a revision succeeded):",
            "             Roll back.",
            "             $ helm rollback -n blueking bk-paas <revision>",
            "           Option B (if none ever succeeded):",
            "             Uninstall it.",
            "             ⚠ DESTRUCTIVE: uninstalls bk-paas. Run it only if none ever succeeded:",
            "             $ helm uninstall -n blueking bk-paas",
            "        3. If it does not resolve:",
            "           Pin the name.",
            "",
            "           A second paragraph.",
            "           Lines for the file /etc/hosts:",
            "               1.2.3.4 hub.example.com",
            "           SQL to run in the database devops_process:",
            "               update T set A=1;",
            "           $ for x in a b; do",
            "             echo $x",
            "             done",
        ])
    }

    @Test func chineseLayout() {
        let lines = FixRenderer.lines(Self.fix, language: .zh, fill: Self.fill)
        #expect(lines.contains("        以下步骤适用于蓝鲸 6.x。"))
        #expect(lines.contains("           方案一（如果有成功的版本）："))
        #expect(lines.contains("           方案二（如果从未成功）："))
        #expect(lines.contains("             ⚠ 危险操作：将卸载 bk-paas。仅在从未成功时执行："))
        #expect(lines.contains("        3. 如果无法解析："))
        #expect(lines.contains("           文件 /etc/hosts 中的内容："))
        #expect(lines.contains("           在数据库 devops_process 中执行的 SQL："))
        // Commands are the same in both languages.
        let en = FixRenderer.lines(Self.fix, language: .en, fill: Self.fill).filter { $0.contains("$ ") }
        #expect(lines.filter { $0.contains("$ ") } == en)
    }

    @Test func aDestructiveCommandIsNeverABareDollarLine() {
        for language in Language.allCases {
            let lines = FixRenderer.lines(Self.fix, language: language, fill: Self.fill)
            let i = lines.firstIndex { $0.hasSuffix("$ helm uninstall -n blueking bk-paas") }!
            #expect(lines[i - 1].contains("⚠"), "\(language): the line before it warns")
        }
    }

    @Test func aPlainCommandListHasNoNumbers() {
        let lines = FixRenderer.lines(Case.Fix(text: Localized(en: "f", zh: "f"), commands: ["a", "b"]), language: .en, fill: { $0 })
        #expect(lines == ["        $ a", "        $ b"])
    }

    @Test func neutralTurnsPlaceholdersIntoAngleBrackets() {
        #expect(FixRenderer.neutral("kubectl logs -n {namespace} {pod}") == "kubectl logs -n <namespace> <pod>")
        #expect(FixRenderer.neutral("jsonpath='{.items[0].spec.clusterIP}' {{ .Values.x }} ${HOME} {Not}") == "jsonpath='{.items[0].spec.clusterIP}' {{ .Values.x }} ${HOME} {Not}")
    }

    @Test func jsonCarriesStepsAndTheFlatCommands() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(FixRenderer.json(Self.fix, fill: Self.fill))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["en"] as? String == "Summary" && object["zh"] as? String == "概要")
        #expect(object["versions"] as? [String] == ["6.x"])
        #expect(object["commands"] as? [String] == [
            "helm list -aA", "helm rollback -n blueking bk-paas <revision>", "helm uninstall -n blueking bk-paas", "for x in a b; do\necho $x\ndone",
        ])
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.count == 3)
        let alternatives = try #require(steps[1]["alternatives"] as? [[String: Any]])
        #expect((alternatives[0]["when"] as? [String: String])?["zh"] == "有成功的版本")
        let uninstall = try #require((alternatives[1]["commands"] as? [[String: Any]])?.first)
        #expect(uninstall["run"] as? String == "helm uninstall -n blueking bk-paas")
        #expect(uninstall["destructive"] as? Bool == true)
        #expect((uninstall["warning"] as? [String: String])?["en"] == "uninstalls bk-paas.")
        let rollback = try #require((alternatives[0]["commands"] as? [[String: Any]])?.first)
        #expect(rollback["destructive"] == nil, "only destructive commands say so")
        let file = try #require((steps[2]["commands"] as? [[String: Any]])?.first)
        #expect(file["file"] as? String == "/etc/hosts" && file["lines"] as? [String] == ["1.2.3.4 hub.example.com"] && file["run"] == nil)
    }
}
