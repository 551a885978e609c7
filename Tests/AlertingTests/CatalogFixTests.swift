import Alerting
import CaseCatalog
import Foundation
import TestSupport
import Testing

/// The fixes of the built-in catalog as an operator reads them: each finding of the review of
/// every case against the knowledge base (issue 7), checked on the rendered alert in both
/// languages (commands) or on the case file (texts).
@Suite struct CatalogFixTests {
    static let catalog: Catalog = {
        do { return try Catalog.load(directories: [Paths.patterns]) } catch { fatalError("catalog: \(error)") }
    }()

    /// What the alert shows of a case, in one language: diagnosis, fix summary and steps, with
    /// every placeholder left unfilled (`<name>`), as when no log line fills it.
    struct Shown {
        var diagnosis: String
        var fix: String
        var lines: [String]
        /// The `$` lines, without the prompt.
        var commands: [String] {
            lines.compactMap { line in
                let text = line.drop { $0 == " " }
                return text.hasPrefix("$ ") ? String(text.dropFirst(2)) : nil
            }
        }
        var all: String { ([diagnosis, fix] + lines).joined(separator: "\n") }
    }

    static func shown(_ id: String, _ language: Language) -> Shown {
        let c = catalog[id]!
        return Shown(
            diagnosis: FixRenderer.neutral(c.diagnosis[language]), fix: FixRenderer.neutral(c.fix.text[language]),
            lines: FixRenderer.lines(c.fix, language: language, fill: FixRenderer.neutral))
    }

    /// The line right before the one that shows `command`.
    static func lineBefore(_ command: String, in shown: Shown) -> String? {
        guard let i = shown.lines.firstIndex(where: { $0.hasSuffix("$ " + command) }), i > 0 else { return nil }
        return shown.lines[i - 1]
    }

    // MARK: The findings, one test each

    /// 1. Alternatives ran as a sequence: roll back OR uninstall, labelled, each with its condition.
    @Test func helmOperationInProgressOffersRollbackOrUninstallAsAlternatives() throws {
        let en = Self.shown("helm-operation-in-progress", .en), zh = Self.shown("helm-operation-in-progress", .zh)
        let a = try #require(en.lines.firstIndex { $0.contains("Option A (if a revision was deployed successfully):") })
        let b = try #require(en.lines.firstIndex { $0.contains("Option B (if no revision was ever deployed successfully):") })
        let rollback = try #require(en.lines.firstIndex { $0.hasSuffix("$ helm rollback -n blueking <release> <revision>") })
        let uninstall = try #require(en.lines.firstIndex { $0.hasSuffix("$ helm uninstall -n blueking <release>") })
        #expect(a < rollback && rollback < b && b < uninstall)
        #expect(zh.lines.contains { $0.contains("方案一（如果有成功部署过的历史版本）：") })
        #expect(zh.lines.contains { $0.contains("方案二（如果没有任何成功部署过的版本）：") })
        #expect(Self.lineBefore("helm uninstall -n blueking <release>", in: zh)?.contains("⚠ 危险操作") == true)
    }

    /// 2. es-cluster-dns-unresolvable deleted bk-redis-cluster's PVCs unconditionally, with only a Chinese comment.
    @Test func esClusterDeletesRedisPVCsOnlyWhenRedisStillFails() {
        let command = "kubectl delete pvc -n blueking -l app.kubernetes.io/instance=bk-redis-cluster"
        let en = Self.shown("es-cluster-dns-unresolvable", .en), zh = Self.shown("es-cluster-dns-unresolvable", .zh)
        #expect(Self.lineBefore(command, in: en) == "           ⚠ DESTRUCTIVE: deletes the persistent volume claims of bk-redis-cluster, and all its data with them. Run it only if bk-redis-cluster still crash-loops once the network works:")
        #expect(Self.lineBefore(command, in: zh) == "           ⚠ 危险操作：将删除 bk-redis-cluster 的 pvc，其中的数据全部丢失。仅在网络恢复后 bk-redis-cluster 仍然 CrashLoopBackOff时执行：")
        #expect(en.lines.contains("        5. If bk-redis-cluster still crash-loops once the network works:"))
        #expect(en.commands.last == "helmfile -f base-storage.yaml.gotmpl -l name=bk-redis-cluster sync")
    }

    /// 3. pipeline-artifact-upload-failed said "redeploy" while its commands ran `helmfile … destroy`.
    @Test func pipelineArtifactUploadSaysItDestroysBkCI() {
        let en = Self.shown("pipeline-artifact-upload-failed", .en), zh = Self.shown("pipeline-artifact-upload-failed", .zh)
        #expect(en.fix.contains("destroy its releases and sync them again (BK-CI is down in between)"))
        #expect(zh.fix.contains("先 destroy 再 sync（期间蓝盾不可用）"))
        #expect(Self.lineBefore("helmfile -f 03-bkci.yaml.gotmpl destroy", in: en)?.hasPrefix("           ⚠ DESTRUCTIVE: uninstalls every release of bk-ci") == true)
        #expect(Self.lineBefore("helmfile -f 03-bkci.yaml.gotmpl destroy", in: zh)?.hasPrefix("           ⚠ 危险操作：将卸载 bk-ci 的全部 release") == true)
    }

    /// 4. helm-chart-download-failed showed a hosts-file line as a `$` command.
    @Test func helmChartDownloadShowsTheHostsLineAsAFileBlock() {
        for (language, header) in [(Language.en, "Lines for the file /etc/hosts:"), (.zh, "文件 /etc/hosts 中的内容：")] {
            let shown = Self.shown("helm-chart-download-failed", language)
            #expect(!shown.lines.contains { $0.contains("$ 49.234.165.79") }, "\(language)")
            let i = shown.lines.firstIndex { $0.hasSuffix(header) }
            #expect(i != nil && shown.lines[i! + 1].hasSuffix("    49.234.165.79 hub.bktencent.com"), "\(language)")
        }
    }

    /// 5. One user's DNS service address 10.96.0.10 in `nslookup`.
    @Test func esClusterAsksForTheClusterDNSAddress() {
        for language in Language.allCases {
            let shown = Self.shown("es-cluster-dns-unresolvable", language)
            #expect(shown.commands.contains("nslookup <host> <dns_ip>"))
            #expect(!shown.commands.joined().contains("10.96.0.10"))
        }
    }

    /// 6. The knowledge base's example app namespace (bk_itsm) in three cases.
    @Test(arguments: ["node-registry-dns-unresolvable", "node-registry-cert-mismatch", "saas-pre-release-hook-failed"])
    func preReleaseHookCommandsTakeTheAppNamespace(id: String) {
        for language in Language.allCases {
            let shown = Self.shown(id, language)
            #expect(shown.commands == ["kubectl describe pod -n <app_namespace> pre-release-hook"], "\(language)")
        }
    }

    /// 7. One user's dead mirror in the skopeo command.
    @Test func dockerMirrorCheckTakesTheOperatorsMirror() {
        let shown = Self.shown("docker-registry-mirror-unreachable", .en)
        #expect(shown.commands.contains("skopeo --debug inspect docker://<mirror>/library/busybox"))
        #expect(!shown.all.contains("ustc"))
    }

    /// 8. The knowledge base's MySQL password in the dump command.
    @Test func paasDumpAsksForThePassword() {
        for language in Language.allCases {
            let commands = Self.shown("paas-desktop-app-offline", language).commands
            #expect(commands.first?.contains("mysqldump -uroot -p<mysql_root_password> --databases open_paas bkpaas3_apiserver") == true)
            #expect(!commands.joined().contains("-pblueking"))
        }
    }

    /// 9. `bk-paas` (and `成功的revision`) as the release of helm-operation-in-progress.
    @Test func helmOperationInProgressNamesNoExampleRelease() {
        for language in Language.allCases {
            let commands = Self.shown("helm-operation-in-progress", language).commands
            #expect(commands == [
                "helm list -aA", "helm history -n blueking <release>", "helm rollback -n blueking <release> <revision>",
                "helm uninstall -n blueking <release>",
            ])
        }
    }

    /// 10–15. Chinese inside commands and their comments, printed unchanged in English output.
    @Test(arguments: [
        ("helm-release-timeout", ["kubectl logs -n <namespace> <pod>", "kubectl logs -p -n <namespace> <pod>"]),
        ("pv-none-available-to-bind", ["kubectl describe pvc -n <namespace> <pvc>"]),
        ("pod-unbound-immediate-pvc", ["kubectl describe pvc -n <namespace> <pvc>"]),
        ("setup-nsenter-timeout", ["kubectl describe pod -n blueking <pod>"]),
        ("es-cluster-dns-unresolvable", ["helmfile -f base-storage.yaml.gotmpl -l name=bk-redis-cluster sync"]),
        ("iam-nodeman-api-unreachable", ["cd ~/bkhelmfile/blueking/", "BK_DOMAIN=$(yq e '.domain.bkDomain' environments/default/custom.yaml)"]),
    ])
    func commandsSpeakNoChinese(id: String, expected: [String]) {
        let en = Self.shown(id, .en)
        for command in expected { #expect(en.commands.contains(command), "\(id): \(en.commands)") }
        #expect(!en.lines.joined().unicodeScalars.contains { $0.value >= 0x4E00 && $0.value <= 0x9FFF }, "\(id): Chinese in English output")
    }

    /// 16. kubelet-port-unreachable: "connection refused means kubelet is down" is not the seed's.
    @Test func kubeletPortBlamesTheNodeNetworkForBothErrors() throws {
        let c = try #require(Self.catalog["kubelet-port-unreachable"])
        #expect(!c.diagnosis.en.contains("kubelet is down") && !c.diagnosis.zh.contains("即 kubelet 没有运行"))
        #expect(c.diagnosis.en.contains("The knowledge base gives one\ncause for both \"no route to host\" and \"connection refused\""))
        #expect(c.diagnosis.zh.contains("知识库给出的原因相同：该节点网络异常"))
        let remarks = c.beyondKnowledgeBase.first { $0.field == "diagnosis" }
        #expect(remarks?.en.first?.hasPrefix("\"connection refused\" can also come from a node whose kubelet is not running") == true)
        #expect(remarks?.zh.first?.contains("kubelet 没有运行") == true)
    }

    /// 17. pipeline-artifact-upload-failed hid the key clue: uploads went to the default repo.bk.com.
    @Test func pipelineArtifactUploadNamesRepoBkCom() throws {
        let c = try #require(Self.catalog["pipeline-artifact-upload-failed"])
        #expect(c.diagnosis.en.contains("the uploads went to repo.bk.com, the default bkrepo\naddress of the bk-ci chart"))
        #expect(c.diagnosis.zh.contains("上传请求发往了 repo.bk.com，即 bk-ci chart 默认的\nbkrepo 地址"))
        for language in Language.allCases {
            #expect(Self.shown("pipeline-artifact-upload-failed", language).lines.joined().contains("repo.bk.com"))
        }
    }

    /// 18. plugin-upload-failed-artifactory stated a cause where the seed gives a checklist.
    @Test func pluginUploadGivesTheChecklist() throws {
        let c = try #require(Self.catalog["plugin-upload-failed-artifactory"])
        #expect(c.diagnosis.en.contains("The knowledge base gives no single cause but two checks"))
        #expect(c.diagnosis.zh.contains("知识库没有给出确定的原因，而是给出两项检查"))
        #expect(!c.diagnosis.en.contains("after a manual copy"))
        #expect(c.fix.steps.map(\.text.en.first) == ["C", "I"], "check the directory, then the log")
    }

    /// 19. bkrepo-gateway-ipv6-disabled promised newer charts fix it; the seed only cites bk-repo#119.
    @Test func bkrepoIPv6PromisesNothing() throws {
        let c = try #require(Self.catalog["bkrepo-gateway-ipv6-disabled"])
        let all = c.texts.map { $0.text.en + $0.text.zh }.joined()
        #expect(!all.contains("newer chart") && !all.contains("新版本不应"))
        #expect(c.fix.text.en.contains("reported to the bk-repo developers\n(TencentBlueKing/bk-repo#119)"))
        #expect(c.fix.text.zh.contains("已向 bk-repo\n开发提单（TencentBlueKing/bk-repo#119）"))
    }

    /// 20–22. Mechanisms the seed never gives: marked as such, or gone.
    @Test func pluginServiceDeployingMarksTheGatewayMechanism() throws {
        let c = try #require(Self.catalog["plugin-service-deploying-mongodb"])
        let marked = c.beyondKnowledgeBase.first { $0.field == "diagnosis" }
        #expect(marked?.en.first?.contains("consul has no healthy instance") == true)
        #expect(marked?.zh.first?.contains("consul 中找不到该微服务的健康实例") == true)
        let before = c.diagnosis.en.components(separatedBy: Case.beyondKnowledgeBaseMarker.en)[0]
        #expect(!before.contains("consul") && before.contains("MongoDB"))
    }

    @Test func bkciInitTurboAddsNoMechanism() throws {
        let c = try #require(Self.catalog["bkci-init-turbo-failed"])
        for text in [c.diagnosis.en, c.fix.text.en] {
            #expect(!text.contains("post-install") && !text.contains("compile acceleration") && !text.contains("hook"))
        }
        #expect(c.diagnosis.en.contains("the default values of bk-ci are wrong"))
        #expect(c.diagnosis.zh.contains("bk-ci 的默认配置项有误"))
    }

    @Test func setupNsenterAddsNoMechanism() throws {
        let c = try #require(Self.catalog["setup-nsenter-timeout"])
        let all = c.texts.map { $0.text.en + $0.text.zh }.joined()
        for word in ["privileged", "busybox", "docker info", "特权"] { #expect(!all.contains(word), "\(word)") }
        #expect(c.diagnosis.en.contains("to find the Docker Root Dir"))
    }

    /// 23. The ingress-nginx 1.12+ step: marked as beyond the knowledge base, and undone at the end.
    @Test func apigatewayMarksAndRestoresTheRiskLevelStep() {
        let en = Self.shown("apigateway-snippet-annotations-disabled", .en), zh = Self.shown("apigateway-snippet-annotations-disabled", .zh)
        let step2 = en.lines.firstIndex { $0.contains("2. If the error says \"contains risky annotation\" (ingress-nginx 1.12 or later):") }
        #expect(step2 != nil && en.lines[step2! + 1].contains("Not from the knowledge base: in the same ConfigMap also set annotations-risk-level"))
        #expect(zh.lines.contains { $0.contains("知识库之外：在同一个 configmap 中把 annotations-risk-level 也设为 \"Critical\"") })
        let restore = en.lines.firstIndex { $0.contains("4. Once BlueKing is deployed") }
        #expect(restore != nil && en.lines[restore!...].contains { $0.contains("Not from the knowledge base: if you changed annotations-risk-level, put back its previous") })
        #expect(zh.lines.contains { $0.contains("知识库之外：如果修改过 annotations-risk-level，也把它恢复为原来的值。") })
    }

    /// 24. bkci-iam-callback-missing omitted the two log files the seed names.
    @Test func bkciCallbackNamesTheTwoLogs() {
        for language in Language.allCases {
            let shown = Self.shown("bkci-iam-callback-missing", language)
            for log in ["/data/bkce/ci/environment/logs/environment-devops.log", "/data/bkce/ci/environment/logs/auth-devops.log"] {
                #expect(shown.diagnosis.contains(log) && shown.lines.joined().contains(log), "\(language): \(log)")
            }
        }
    }

    /// 25. Cases of the 6.x FAQ say which version their commands are for, in the alert and in docs/CASES.md.
    @Test(arguments: ["bkiam-v3-failed", "bkci-iam-callback-missing", "bkci-jooq-sql-exception", "plugin-upload-failed-artifactory", "plugin-service-deploying-mongodb"])
    func sixXCasesSayTheirVersion(id: String) throws {
        #expect(Self.catalog[id]?.fix.versions == ["6.x"])
        #expect(Self.shown(id, .en).lines.first == "        These steps are for BlueKing 6.x.")
        #expect(Self.shown(id, .zh).lines.first == "        以下步骤适用于蓝鲸 6.x。")
        let doc = try String(contentsOf: Paths.root.appendingPathComponent("docs/CASES.md"), encoding: .utf8)
        let section = try #require(doc.components(separatedBy: "\n### \(id)\n").dropFirst().first)
        #expect(section.contains("Version: BlueKing 6.x."))
    }

    /// 26. apigateway's English said "restart the deployment" for "rerun the BlueKing deployment".
    @Test func apigatewaySaysRerunTheDeployment() {
        let en = Self.shown("apigateway-snippet-annotations-disabled", .en)
        #expect(en.fix.contains("rerun the BlueKing\ndeployment") && en.lines.contains { $0.contains("3. Rerun the BlueKing deployment") })
        #expect(!en.all.contains("restart the deployment"))
        #expect(Self.shown("apigateway-snippet-annotations-disabled", .zh).lines.contains { $0.contains("3. 重新开始蓝鲸的部署操作") })
    }

    /// 27. saas-pre-release-hook-failed's Chinese read as "replace _ with 0us0-prod".
    @Test func preReleaseHookNamespaceRuleReadsRightInChinese() throws {
        let c = try #require(Self.catalog["saas-pre-release-hook-failed"])
        let all = c.texts.map(\.text.zh).joined()
        #expect(!all.contains("0us0-prod 或"))
        #expect(all.contains("其命名空间由三部分组成：前缀 bkapp-，应用 ID\n（其中每个 “_” 替换为 “0us0”），后缀 -prod（生产环境）或 -stag（预发布环境）"))
    }

    /// 28. A failed release install stops the deployment: the generic cases that report one are errors.
    @Test func genericReleaseFailuresAreErrors() {
        for id in ["helm-release-timeout", "pod-crashloop-backoff", "saas-build-failed", "saas-pre-release-hook-failed"] {
            #expect(Self.catalog[id]?.severity == .error, "\(id)")
        }
        for c in Self.catalog.cases {
            for generic in c.supersedes {
                #expect(c.severity >= Self.catalog[generic]!.severity, "\(c.id) is less severe than \(generic), which it explains")
            }
        }
    }

    /// 29. saas-build-runtimes-missing: its heading as the seed writes it (is in KnowledgeBaseTests
    /// too, byte for byte).
    @Test func saasBuildRuntimesHeadingHasTheSeedsNonBreakingSpaces() throws {
        let c = try #require(Self.catalog["saas-build-runtimes-missing"])
        #expect(c.source.heading.utf8.elementsEqual("部署 SaaS 在构建应用步骤报错 code command\u{A0}not\u{A0}found".utf8))
    }

    // MARK: The same kinds, in every case

    @Test func noCaseShowsChineseInACommandOfItsEnglishAlert() {
        for c in Self.catalog.cases {
            let commands = Self.shown(c.id, .en).commands.joined(separator: "\n")
            #expect(!commands.unicodeScalars.contains { $0.value >= 0x4E00 && $0.value <= 0x9FFF }, "\(c.id)")
        }
    }

    @Test func everyDestructiveCommandFollowsItsWarningInBothLanguages() {
        for c in Self.catalog.cases {
            let destructive = c.fix.steps.flatMap { [$0] + $0.alternatives }.flatMap(\.commands).filter(\.isDestructive).compactMap(\.shell)
            for language in Language.allCases {
                let shown = Self.shown(c.id, language)
                for command in destructive {
                    let before = Self.lineBefore(FixRenderer.neutral(command), in: shown)
                    #expect(before?.contains(language == .zh ? "⚠ 危险操作：" : "⚠ DESTRUCTIVE: ") == true, "\(c.id) \(language): \(command)")
                    #expect(before?.contains(language == .zh ? "仅在" : "Run it only if") == true, "\(c.id) \(language): no condition")
                }
            }
        }
    }

    @Test func noCommandCarriesAnExampleValueOfTheKnowledgeBase() {
        for c in Self.catalog.cases {
            let commands = Self.shown(c.id, .en).commands.joined(separator: "\n")
            for example in ["bkapp-bk0us0itsm-prod", "10.96.0.10", "-pblueking", "docker.mirrors.ustc.edu.cn", "registry.docker-cn.com", "成功的revision"] {
                #expect(!commands.contains(example), "\(c.id): \(example)")
            }
        }
    }
}
