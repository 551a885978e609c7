import Alerting
import CaseCatalog
import Foundation
import Testing

@Suite struct AlertFormatterTests {
    let alert: Alert = {
        let c = Case(
            id: "helm-no-deployed-releases", title: Localized(en: "Never deployed", zh: "从未部署成功"), severity: .error,
            source: .init(seed: "001.txt", heading: "h"), symptoms: [Symptom(id: "upgrade", regex: "x")],
            diagnosis: Localized(en: "Release {release} has no successful revision.", zh: "{release} 没有成功的版本。"),
            fix: .init(text: Localized(en: "Uninstall it.", zh: "先卸载。"), commands: ["helm uninstall -n blueking {release}"]))
        return Alert(
            knownCase: c, origin: Origin(kind: .file, name: "setup.log"),
            evidence: Evidence(symptomID: "upgrade", lineNumber: 42, line: #"Error: UPGRADE FAILED: "bk-paas" has no deployed releases"#),
            earlier: [], captures: [Capture(name: "release", value: "bk-paas")], time: 0, supersededBy: ["x-case"], explains: [])
    }()

    @Test func jsonCarriesTheDocumentedKeysAndBothLanguages() throws {
        let text = AlertFormatter(format: .json, language: .en).render(alert)
        #expect(text.hasSuffix("\n") && !text.dropLast().contains("\n"), "one object per line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        for key in ["case_id", "severity", "title", "source", "line_number", "line", "captures", "fix", "diagnosis", "superseded_by", "time"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect(object["line_number"] as? Int == 42)
        #expect((object["title"] as? [String: String])?["zh"] == "从未部署成功")
        #expect((object["captures"] as? [String: String])?["release"] == "bk-paas")
        let fix = try #require(object["fix"] as? [String: Any])
        #expect(fix["commands"] as? [String] == ["helm uninstall -n blueking bk-paas"])
        #expect((object["diagnosis"] as? [String: String])?["en"] == "Release bk-paas has no successful revision.")
    }

    @Test func textIsInTheChosenLanguageWithBothTitles() {
        let zh = AlertFormatter(format: .text, language: .zh).render(alert)
        #expect(zh.contains("从未部署成功") && zh.contains("Never deployed"))
        #expect(zh.contains("先卸载") && !zh.contains("Uninstall it."))
        #expect(zh.contains("$ helm uninstall -n blueking bk-paas"))
        #expect(zh.contains("setup.log:42"))
        #expect(zh.contains("已发现更具体的案例：x-case"))
        let en = AlertFormatter(format: .text, language: .en).render(alert)
        #expect(en.contains("Uninstall it.") && en.contains("more specific case found: x-case"))
        #expect(!en.contains("\u{1B}["), "no colour unless asked")
    }
}
