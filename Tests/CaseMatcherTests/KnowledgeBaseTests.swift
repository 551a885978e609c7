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

    /// A heading as the bytes it is made of: Swift's `==` on strings is Unicode canonical
    /// equivalence, and headings must match byte for byte (the seed separates some words with
    /// non-breaking spaces, U+00A0, and the case must name them the same way).
    private static func key(_ file: some StringProtocol, _ heading: some StringProtocol) -> [UInt8] {
        Array(file.utf8) + [UInt8(ascii: "#")] + Array(heading.utf8)
    }

    /// Every case heading of every seed file (`### ` headings; the 6.x FAQ's `## Q` headings),
    /// exactly as written (only the line break removed).
    static let seedHeadings: [(file: String, heading: String)] = {
        let dir = Paths.shared.appendingPathComponent("seeds")
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasSuffix(".txt") }.sorted()
        var result: [(String, String)] = []
        for file in files {
            let bytes = [UInt8](FileManager.default.contents(atPath: dir.appendingPathComponent(file).path) ?? Data())
            for var line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                if text.hasPrefix("### ") {
                    result.append((file, String(text.dropFirst(4))))
                } else if text.hasPrefix("## Q") {
                    result.append((file, String(text.dropFirst(3))))
                }
            }
        }
        return result
    }()

    @Test(.needsShared) func seedsAreThere() {
        #expect(Self.seedHeadings.count >= 60, "\(Paths.shared.path)/seeds has too few headings")
    }

    @Test(.needsShared) func everySeedHeadingHasACase() {
        var covered: Set<[UInt8]> = []
        for c in Builtin.catalog.cases {
            covered.insert(Self.key(c.source.seed, c.source.heading))
            for also in c.source.also {
                let parts = also.split(separator: "#", maxSplits: 1)
                if parts.count == 2 { covered.insert(Self.key(parts[0], parts[1])) }
            }
        }
        for (file, heading) in Self.seedHeadings {
            #expect(covered.contains(Self.key(file, heading)), "no case for \(file): \(heading)")
        }
    }

    @Test(.needsShared) func everyCaseNamesARealSeedHeadingByteForByte() {
        let headings = Set(Self.seedHeadings.map { Self.key($0.file, $0.heading) })
        for c in Builtin.catalog.cases where c.source.seed != "casewatch" {
            #expect(headings.contains(Self.key(c.source.seed, c.source.heading)),
                "\(c.id): '\(c.source.heading)' is not, byte for byte, a heading of \(c.source.seed)")
            for also in c.source.also {
                let parts = also.split(separator: "#", maxSplits: 1)
                #expect(parts.count == 2 && headings.contains(Self.key(parts[0], parts[1])), "\(c.id): also '\(also)' is not a seed heading")
            }
        }
    }

    /// Regression: the heading was written with plain spaces where the seed has U+00A0.
    @Test func saasBuildRuntimesMissingNamesItsHeadingWithTheSeedsNonBreakingSpaces() throws {
        let c = try #require(Builtin.catalog["saas-build-runtimes-missing"])
        #expect(c.source.heading.utf8.elementsEqual("部署 SaaS 在构建应用步骤报错 code command\u{A0}not\u{A0}found".utf8))
    }

    @Test func casesDocumentIsUpToDate() throws {
        let path = Paths.root.appendingPathComponent("docs/CASES.md").path
        let document = try String(contentsOfFile: path, encoding: .utf8)
        #expect(CatalogDocument.update(document, with: Builtin.catalog) == document,
            "docs/CASES.md is stale: run `casewatch cases docs --update docs/CASES.md`")
    }

    @Test func everyCaseSpeaksBothLanguages() {
        // Titles, diagnoses, fix summaries, and every step's text, condition and warning.
        for c in Builtin.catalog.cases {
            for (field, text) in c.texts {
                #expect(text.zh.unicodeScalars.contains { $0.value >= 0x4E00 && $0.value <= 0x9FFF }, "\(c.id): \(field): zh text has no Chinese")
                #expect(text.en.unicodeScalars.contains { $0.isASCII && $0.properties.isAlphabetic }, "\(c.id): \(field): en text is empty")
            }
        }
    }
}
