import CaseCatalog
import Foundation
import TestSupport
import Testing

/// The catalog against the knowledge base it comes from and the docs generated from it.
@Suite struct KnowledgeBaseTests {
    /// The public case ids: alerts, MESSAGE_IDs, config overrides and users' scripts use them.
    static let publicIDs: Set<String> = [
        "setup-nsenter-timeout", "setup-helmfile-not-found", "helm-chart-download-failed", "helm-release-timeout",
        "pod-crashloop-backoff", "pod-pending-unschedulable", "pod-image-manifest-unknown",
        "es-cluster-dns-unresolvable", "bkrepo-gateway-ipv6-disabled", "apigateway-snippet-annotations-disabled",
        "helm-no-deployed-releases", "helm-operation-in-progress", "bkrepo-token-expired-clock-skew",
        "saas-package-mime-rejected", "saas-app-id-exists", "saas-provision-mysql-failed", "saas-provision-redis-failed",
        "saas-build-failed", "saas-build-runtimes-missing", "saas-pre-release-hook-failed",
        "node-registry-dns-unresolvable", "node-registry-cert-mismatch", "agent-download-resolve-failed",
        "agent-download-timeout", "agent-download-not-found", "agent-gse-zk-unresolvable", "plugin-job-api-401",
        "bcs-passwords-error", "bcs-crd-missing-apigateway", "helm-template-index-nil", "consul-no-private-ipv4",
        "bkmonitor-gse-ipc-missing", "bkci-init-turbo-failed", "paas-desktop-app-offline", "cmdb-login-loop",
        "login-static-files-missing", "monitor-k8s-resource-unauthorized", "iam-nodeman-api-unreachable",
        "pipeline-artifact-upload-failed", "pipeline-gitlab-webhook-permission", "docker-registry-mirror-unreachable",
        "kubelet-port-unreachable", "pv-none-available-to-bind", "pvc-waiting-for-pod-scheduled",
        "pod-unbound-immediate-pvc", "pvc-no-storage-class", "bkiam-v3-failed", "plugin-service-deploying-mongodb",
        "plugin-upload-failed-artifactory", "bkci-iam-callback-missing", "bkci-jooq-sql-exception",
        "pipeline-parallel-limit", "pipeline-file-variable-2102004",
        // casewatch's own (Patterns/casewatch.yaml): not from the knowledge base.
        "casewatch-source-failing",
    ]

    @Test func everyPublicIDIsInTheCatalog() {
        let ids = Set(Builtin.catalog.cases.map(\.id))
        #expect(Self.publicIDs.subtracting(ids).isEmpty, "missing: \(Self.publicIDs.subtracting(ids).sorted())")
        #expect(ids.subtracting(Self.publicIDs).isEmpty, "unexpected: \(ids.subtracting(Self.publicIDs).sorted())")
    }

    /// Headings compared with every run of white space (NBSP included) folded to one space.
    private static func normalized(_ s: String) -> String {
        s.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// Every case heading of every seed file (`### ` headings; the 6.x FAQ's `## Q` headings).
    static let seedHeadings: [(file: String, heading: String)] = {
        let dir = Paths.shared.appendingPathComponent("seeds")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasSuffix(".txt") }.sorted()
        var result: [(String, String)] = []
        for file in files {
            let text = (try? String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("### ") {
                    result.append((file, normalized(String(line.dropFirst(4)))))
                } else if line.hasPrefix("## Q") {
                    result.append((file, normalized(String(line.dropFirst(3)))))
                }
            }
        }
        return result
    }()

    @Test(.needsShared) func seedsAreThere() {
        #expect(Self.seedHeadings.count >= 60, "\(Paths.shared.path)/seeds has too few headings")
    }

    @Test(.needsShared) func everySeedHeadingHasACase() {
        var covered: Set<String> = []
        for c in Builtin.catalog.cases {
            covered.insert(c.source.seed + "#" + Self.normalized(c.source.heading))
            for also in c.source.also {
                let parts = also.split(separator: "#", maxSplits: 1)
                if parts.count == 2 { covered.insert(parts[0] + "#" + Self.normalized(String(parts[1]))) }
            }
        }
        for (file, heading) in Self.seedHeadings {
            #expect(covered.contains(file + "#" + heading), "no case for \(file): \(heading)")
        }
    }

    @Test(.needsShared) func everyCaseNamesARealSeedHeading() {
        let headings = Set(Self.seedHeadings.map { $0.file + "#" + $0.heading })
        for c in Builtin.catalog.cases where c.source.seed != "casewatch" {
            #expect(headings.contains(c.source.seed + "#" + Self.normalized(c.source.heading)),
                "\(c.id): '\(c.source.heading)' is not a heading of \(c.source.seed)")
        }
    }

    @Test func casesDocumentIsUpToDate() throws {
        let path = Paths.root.appendingPathComponent("docs/CASES.md").path
        let document = try String(contentsOfFile: path, encoding: .utf8)
        #expect(CatalogDocument.update(document, with: Builtin.catalog) == document,
            "docs/CASES.md is stale: run `casewatch cases docs --update docs/CASES.md`")
    }

    @Test func everyCaseSpeaksBothLanguages() {
        for c in Builtin.catalog.cases {
            for text in [c.title, c.diagnosis, c.fix.text] {
                #expect(text.zh.unicodeScalars.contains { $0.value >= 0x4E00 && $0.value <= 0x9FFF }, "\(c.id): zh text has no Chinese")
                #expect(text.en.unicodeScalars.contains { $0.isASCII && $0.properties.isAlphabetic }, "\(c.id): en text is empty")
            }
        }
    }
}
