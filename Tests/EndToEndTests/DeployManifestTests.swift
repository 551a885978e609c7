import Foundation
import TestSupport
import Testing

/// deploy/daemonset.yaml as the real kubectl sees it: `kubectl apply --dry-run=client` reads the
/// file, maps each kind through the API's discovery (v1, apps/v1, rbac.authorization.k8s.io/v1,
/// served by the test's loopback API) and asks the server for each object (404: it would be
/// created). `--validate=false`: schema validation needs the API server's OpenAPI documents,
/// which the loopback API does not serve (they are megabytes of generated schema). No API server
/// can run here; this is what can be checked honestly without one (deploy/README.md says what
/// is not).
@Suite struct DeployManifestTests {
    static let manifest = Paths.root.appendingPathComponent("deploy/daemonset.yaml").path

    @Test(arguments: KubectlBinaries.versions)
    func kubectlApplyDryRunCreatesEveryObject(version: String) throws {
        let kubectl = try #require(KubectlBinaries.path(version), "kubectl.\(version) must be installed beside the kubectl on PATH")
        let api = try KubeAPIServer()
        let dir = Paths.temporaryDirectory("casewatch-deploy")
        defer {
            api.stop()
            try? FileManager.default.removeItem(at: dir)
        }
        let kubeconfig = dir.appendingPathComponent("kubeconfig").path
        try api.writeKubeconfig(to: kubeconfig)
        var env = Paths.commandEnvironment
        env["HOME"] = dir.path
        let result = try runCommand(
            kubectl,
            ["--kubeconfig", kubeconfig, "--cache-dir", dir.appendingPathComponent("cache").path, "--request-timeout", "60s",
             "apply", "--dry-run=client", "--validate=false", "-f", Self.manifest],
            environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        let expected = [
            "namespace/casewatch", "serviceaccount/casewatch", "clusterrole.rbac.authorization.k8s.io/casewatch-reader",
            "clusterrolebinding.rbac.authorization.k8s.io/casewatch-reader", "configmap/casewatch", "daemonset.apps/casewatch",
        ]
        let lines = result.stdout.split(separator: "\n").map(String.init)
        for object in expected {
            #expect(lines.contains("\(object) created (dry run)"), "\(object) not in: \(result.stdout)")
        }
        #expect(lines.count == expected.count, "\(result.stdout)")
    }

    /// The ConfigMap's configuration passes `casewatch validate` with NODE_NAME set, as the
    /// downward API sets it (scripts/deploy-test.sh checks it again inside a Debian 12 root).
    @Test func theConfigMapsConfigurationValidates() throws {
        let text = try String(contentsOfFile: Self.manifest, encoding: .utf8)
        var config: [String] = []
        var inside = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  casewatch.yaml: |") { inside = true; continue }
            if inside && line.hasPrefix("---") { break }
            if inside { config.append(line.hasPrefix("    ") ? String(line.dropFirst(4)) : String(line)) }
        }
        #expect(config.contains { $0.contains("node: ${NODE_NAME}") })
        let dir = Paths.temporaryDirectory("casewatch-deploy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("casewatch.yaml").path
        try config.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        var env = Paths.commandEnvironment
        env["NODE_NAME"] = "node-1"
        let ok = try runCommand(Paths.casewatch, ["validate", "--config", path], environment: env)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        // Without NODE_NAME the file names the variable, the file and the line.
        env["NODE_NAME"] = nil
        let missing = try runCommand(Paths.casewatch, ["validate", "--config", path], environment: env)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("NODE_NAME") && missing.stderr.contains(path), "\(missing.stderr)")
    }
}
