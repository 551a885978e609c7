import CaseCatalog
import Foundation
import TestSupport
import Testing

@Suite struct FixLintTests {
    static let seeds = Paths.shared.appendingPathComponent("seeds").path

    @Test func theBuiltinCatalogLintsClean() throws {
        let catalog = try Catalog.load(directories: [Paths.patterns])
        let findings = FixLint.lint(catalog, seeds: Self.seeds)
        #expect(findings.isEmpty, "\(findings.map(\.description).joined(separator: "\n"))")
    }

    /// The rule ids a fix (the YAML lines after `fix:`) is flagged with, and in which fields.
    static func findings(_ fix: String) throws -> [FixLintFinding] {
        let catalog = try Catalog(cases: try CatalogLoader.parse(fixDocument(fix), file: "Patterns/x.yaml"))
        return FixLint.lint(catalog, seeds: nil)
    }

    static func steps(_ body: String) -> String {
        "  en: f\n  zh: f\n  steps:\n" + body
    }

    static func commands(_ list: String, when: Bool = false, owns: String = "") -> String {
        "  en: f\n  zh: f\n" + (owns.isEmpty ? "" : "  owns: [\(owns)]\n") + "  steps:\n    - en: s\n      zh: s\n"
            + (when ? "      when: {en: w, zh: w}\n" : "") + "      commands:\n" + list
    }

    /// Each bad fix is flagged by the right rule, at the right command.
    @Test(arguments: [
        // Values of someone's install.
        (commands("        - \"helm rollback -n blueking bk-paas 3\"\n"), FixLintFinding.Rule.literalValue, "fix.steps[0].commands[0]", "release name 'bk-paas'"),
        (commands("        - \"helmfile -f base.yaml.gotmpl -l name=bk-paas sync\"\n"), .literalValue, "fix.steps[0].commands[0]", "release name 'bk-paas'"),
        (commands("        - \"kubectl logs -p -n blueking bk-paas-web-7d9f\"\n"), .literalValue, "fix.steps[0].commands[0]", "pod name 'bk-paas-web-7d9f'"),
        (commands("        - \"nslookup bk.blueking.svc.cluster.local 10.96.0.10\"\n"), .literalValue, "fix.steps[0].commands[0]", "IP address '10.96.0.10'"),
        (commands("        - \"mysqldump -uroot -pblueking --databases x\"\n", owns: "blueking"), .literalValue, "fix.steps[0].commands[0]", "password 'blueking'"),
        (commands("        - \"skopeo --debug inspect docker://docker.mirrors.ustc.edu.cn/library/busybox\"\n"), .literalValue, "fix.steps[0].commands[0]", "registry or mirror 'docker.mirrors.ustc.edu.cn'"),
        (commands("        - \"kubectl describe pod -n bkapp-bk0us0itsm-prod pre-release-hook\"\n", owns: "pre-release-hook"), .literalValue, "fix.steps[0].commands[0]", "app namespace 'bkapp-bk0us0itsm-prod'"),
        // Chinese in commands and their comments.
        (commands("        - \"kubectl logs -n 命名空间 {pod}\"\n"), .chineseInCommand, "fix.steps[0].commands[0]", "'命'"),
        (commands("        - \"helmfile -f base.yaml.gotmpl sync  # 重新部署\"\n"), .chineseInCommand, "fix.steps[0].commands[0]", "'重'"),
        (commands("        - {file: /etc/hosts, lines: [\"1.2.3.4 名字\"]}\n", owns: "1.2.3.4"), .chineseInCommand, "fix.steps[0].commands[0]", "'名'"),
        // Destruction.
        (commands("        - \"kubectl delete pvc -n blueking -l app.kubernetes.io/instance={release}\"\n", when: true), .destructiveUnmarked, "fix.steps[0].commands[0]", "'delete'"),
        (commands("        - \"helm uninstall -n blueking {release}\"\n", when: true), .destructiveUnmarked, "fix.steps[0].commands[0]", "'uninstall'"),
        (commands("        - \"helmfile -f 03-bkci.yaml.gotmpl destroy\"\n", when: true), .destructiveUnmarked, "fix.steps[0].commands[0]", "'destroy'"),
        (commands("        - \"rm -rf /data/bkce/ci\"\n", when: true), .destructiveUnmarked, "fix.steps[0].commands[0]", "'rm -rf'"),
        (commands("        - {sql: devops_process, lines: [\"DROP TABLE T_X;\"]}\n", when: true), .destructiveUnmarked, "fix.steps[0].commands[0]", "'drop'"),
        (commands("        - {sql: devops_process, lines: [\"truncate table T_X;\"]}\n", when: true), .destructiveUnmarked, "fix.steps[0].commands[0]", "'truncate'"),
        (commands("        - {run: \"helm uninstall -n blueking {release}\", destructive: true, warning: {en: w, zh: w}}\n"), .destructiveWithoutCondition, "fix.steps[0].commands[0]", "when"),
        (commands("        - {run: \"kubectl delete pvc -n blueking -l x={release}\", destructive: true, warning: {en: w, zh: w}}\n        - \"helmfile -f base.yaml.gotmpl sync\"\n", when: true), .destructiveNotLast, "fix.steps[0].commands[0]", "last"),
        // Not shell commands.
        (commands("        - \"49.234.165.79 hub.bktencent.com\"\n", owns: "49.234.165.79"), .notACommand, "fix.steps[0].commands[0]", "hosts-file line"),
        (commands("        - \"config:\"\n"), .notACommand, "fix.steps[0].commands[0]", "configuration line"),
        (commands("        - \"update devops_process.T_PIPELINE_SETTING set MAX_CON_RUNNING_QUEUE_SIZE=100;\"\n"), .notACommand, "fix.steps[0].commands[0]", "SQL statement"),
        (commands("        - \"# only a comment\"\n"), .notACommand, "fix.steps[0].commands[0]", "only a comment"),
        // Texts, versions, owns.
        (steps("    - en: \"Not from the knowledge base: also do this.\"\n      zh: 也这样做。\n"), .beyondKnowledgeBaseUnpaired, "fix.steps[0]", "1 remark(s)"),
        (commands("        - \"/data/install/bkcli start saas-o\"\n"), .versionMissing, "fix.versions", "'bkcli'"),
        (commands("        - \"helm list -aA\"\n", owns: "bk-redis-cluster"), .ownsUnused, "fix.owns", "'bk-redis-cluster'"),
    ])
    func flagsTheRightRule(fix: String, rule: FixLintFinding.Rule, field: String, words: String) throws {
        let found = try Self.findings(fix)
        let hit = found.first { $0.rule == rule }
        #expect(hit != nil, "not flagged \(rule.rawValue): \(found)")
        #expect(hit?.field == field, "\(String(describing: hit))")
        #expect(hit?.description.contains(words) == true, "\(String(describing: hit))")
        #expect(hit?.description.hasPrefix("Patterns/x.yaml:") == true && hit?.caseID == "fix-case")
    }

    /// The good forms of the same commands pass.
    @Test(arguments: [
        commands("        - \"helm rollback -n blueking {release} {revision}\"\n"),
        commands("        - \"helmfile -f base-storage.yaml.gotmpl -l name=bk-redis-cluster sync\"\n", owns: "bk-redis-cluster"),
        commands("        - \"kubectl logs -p -n {namespace} {pod}\"\n        - \"kubectl logs -n blueking deploy/bk-login-web\"\n"),
        commands("        - \"nslookup {host} {dns_ip}\"\n"),
        commands("        - \"kubectl exec -it -n blueking bk-mysql-mysql-master-0 -- mysqldump -uroot -p{mysql_root_password} --databases x\"\n", owns: "bk-mysql-mysql-master-0"),
        commands("        - \"skopeo --debug inspect docker://{mirror}/library/busybox\"\n"),
        commands("        - \"kubectl describe pod -n {app_namespace} pre-release-hook\"\n", owns: "pre-release-hook"),
        commands("        - {run: \"kubectl delete pvc -n blueking -l x={release}\", destructive: true, warning: {en: w, zh: w}}\n", when: true),
        commands("        - {file: /etc/hosts, lines: [\"49.234.165.79 hub.bktencent.com\"]}\n", owns: "49.234.165.79"),
        commands("        - {sql: devops_process, lines: [\"update T set A=1 where ID='{pipeline_id}';\"]}\n"),
        commands("        - \"IP1=$(kubectl get svc -A -l app=x -o jsonpath='{.items[0].spec.clusterIP}')\"\n        - \"rm -f environments/default/x.yaml\"\n"),
        steps("    - en: \"Not from the knowledge base: also do this.\"\n      zh: 知识库之外：也这样做。\n"),
    ])
    func goodFixesPass(fix: String) throws {
        let found = try Self.findings(fix)
        #expect(found.isEmpty, "\(found)")
    }

    @Test func aCaseLessSevereThanWhatItSupersedesIsFlagged() throws {
        let generic = fixDocument("  en: f\n  zh: f").replacingOccurrences(of: "id: fix-case", with: "id: generic-case")
        let specific = fixDocument("  en: f\n  zh: f").replacingOccurrences(of: "severity: error", with: "severity: warning")
            + "\nsupersedes: [generic-case]"
        let catalog = try Catalog(cases: try CatalogLoader.parse(generic + "\n---\n" + specific, file: "x.yaml"))
        let found = FixLint.lint(catalog, seeds: nil)
        #expect(found.map(\.rule) == [.severityBelowSuperseded])
        #expect(found.first?.caseID == "fix-case" && found.first?.message.contains("warning is less than the error of generic-case") == true)
    }

    /// Headings are compared byte for byte: a plain space is not the seed's non-breaking one.
    @Test func headingsMustMatchTheSeedByteForByte() throws {
        let seeds = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: seeds) }
        try "# Page\n\n### 部署 SaaS 报错 code command\u{A0}not\u{A0}found\n**表现**\n".write(
            to: seeds.appendingPathComponent("001.txt"), atomically: true, encoding: .utf8)
        func lint(_ heading: String, seed: String = "001.txt") throws -> [FixLintFinding] {
            let text = fixDocument("  en: f\n  zh: f").replacingOccurrences(
                of: "source: {seed: 001.txt, heading: Sample heading}", with: "source: {seed: \(seed), heading: \"\(heading)\"}")
            return FixLint.lint(try Catalog(cases: try CatalogLoader.parse(text, file: "x.yaml")), seeds: seeds.path)
        }
        #expect(try lint("部署 SaaS 报错 code command\\u00A0not\\u00A0found").isEmpty)
        let plain = try lint("部署 SaaS 报错 code command not found")
        #expect(plain.map(\.rule) == [.headingNotInSeed])
        #expect(plain.first?.message.contains("command\\u{A0}not\\u{A0}found") == true, "the message spells the difference out: \(plain)")
        #expect(try lint("部署 SaaS 报错 code command\\u00A0not\\u00A0found", seed: "002.txt").first?.message.contains("no seed file '002.txt'") == true)
    }

    @Test func everyRuleIsDocumented() throws {
        let doc = try String(contentsOf: Paths.root.appendingPathComponent("docs/CATALOG-FORMAT.md"), encoding: .utf8)
        for rule in FixLintFinding.Rule.allCases {
            #expect(doc.contains("| `\(rule.rawValue)` |"), "docs/CATALOG-FORMAT.md does not describe \(rule.rawValue)")
        }
    }
}
