import Foundation
import LogSources
import TestSupport
import Testing

/// The real kubectl binaries (oldest and newest installed) against the suite's loopback API
/// server: the plumbing every Kubernetes source stands on.
@Suite struct KubectlTests {
    struct Fixture {
        let server: KubeAPIServer
        let directory: URL
        let kubectl: Kubectl

        init(_ version: String) throws {
            server = try KubeAPIServer()
            directory = Paths.temporaryDirectory("casewatch-kubectl")
            let config = directory.appendingPathComponent("kubeconfig").path
            try server.writeKubeconfig(to: config)
            let binary = try #require(KubectlBinaries.path(version), "kubectl.\(version) is installed beside kubectl")
            kubectl = Kubectl(
                executable: binary, kubeconfig: config, context: "casewatch-test",
                cacheDirectory: directory.appendingPathComponent("cache").path, requestTimeout: 10)
        }

        func remove() {
            server.stop()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test(arguments: KubectlBinaries.versions)
    func listsPodsFromTheLoopbackServer(version: String) async throws {
        let f = try Fixture(version)
        defer { f.remove() }
        f.server.addPod(namespace: "blueking", name: "bk-web-0", containers: [.init("web")], node: "node-a", labels: ["app": "web"])
        f.server.addPod(namespace: "blueking", name: "bk-db-0", containers: [.init("db")], node: "node-b", labels: ["app": "db"])
        let out = try await f.kubectl.run(["get", "pods", "--all-namespaces", "-o", "json"])
        #expect(out.succeeded, "\(out.stderrText)")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout)) as? [String: Any])
        let names = (list["items"] as? [[String: Any]] ?? []).compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
        #expect(Set(names) == ["bk-web-0", "bk-db-0"])

        // The selectors the source uses: a node (DaemonSet) and labels.
        let onNode = try await f.kubectl.run(["get", "pods", "-A", "--field-selector", "spec.nodeName=node-b", "-o", "name"])
        #expect(onNode.stdoutText == "pod/bk-db-0\n", "\(onNode.stderrText)")
        let labelled = try await f.kubectl.run(["get", "pods", "-n", "blueking", "-l", "app=web", "-o", "name"])
        #expect(labelled.stdoutText == "pod/bk-web-0\n", "\(labelled.stderrText)")
        // The cache went where it was told, not to $HOME/.kube.
        #expect(FileManager.default.fileExists(atPath: f.directory.appendingPathComponent("cache").path))
    }

    @Test(arguments: KubectlBinaries.versions)
    func logsResumeFromAWholeSecondInclusive(version: String) async throws {
        let f = try Fixture(version)
        defer { f.remove() }
        f.server.addPod(namespace: "blueking", name: "bk-web-0", containers: [.init("web")])
        let base = (Date().timeIntervalSince1970 - 100).rounded(.down)
        let stamps = f.server.appendLog(namespace: "blueking", pod: "bk-web-0", container: "web", ["one", "two"], at: base + 0.25)
        f.server.appendLog(namespace: "blueking", pod: "bk-web-0", container: "web", ["three"], at: base + 1.5)
        #expect(stamps.first?.hasSuffix(".250000000Z") == true, "RFC 3339 with nanoseconds: \(stamps)")
        let all = try await f.kubectl.run(["logs", "-n", "blueking", "bk-web-0", "-c", "web", "--timestamps"])
        #expect(all.succeeded, "\(all.stderrText)")
        #expect(all.stdoutText.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1)[1] } == ["one", "two", "three"])
        // --since-time with a fraction: the server sees whole seconds and keeps that second.
        let since = try await f.kubectl.run(["logs", "-n", "blueking", "bk-web-0", "-c", "web", "--timestamps", "--since-time=\(stamps[1])"])
        #expect(since.stdoutText.split(separator: "\n").count == 3, "\(since.stdoutText) \(since.stderrText)")
        let later = KubeAPIServer.timestamp(KubeAPIServer.nanos(base + 1) + 999)
        let next = try await f.kubectl.run(["logs", "-n", "blueking", "bk-web-0", "-c", "web", "--since-time=\(later)"])
        #expect(next.stdoutText == "three\n", "\(next.stderrText)")
    }

    @Test(arguments: KubectlBinaries.versions)
    func followEndsWhenTheServerClosesTheStream(version: String) async throws {
        let f = try Fixture(version)
        defer { f.remove() }
        f.server.addPod(name: "p", containers: [.init("c")])
        f.server.appendLog(pod: "p", container: "c", ["first"])
        final class Lines: @unchecked Sendable {
            let lock = NSLock()
            var text = ""
        }
        let lines = Lines()
        let server = f.server
        let out = try await f.kubectl.stream(["logs", "-f", "p", "-c", "c"], timeout: 20) { bytes in
            let piece = String(decoding: bytes, as: UTF8.self)
            let text = lines.lock.withLock { lines.text += piece; return lines.text }
            if text == "first\n" {
                server.appendLog(pod: "p", container: "c", ["second"])
            } else if text == "first\nsecond\n" {
                server.closeLogStreams(pod: "p")
            }
        }
        #expect(!out.timedOut && out.status == 0, "\(out.stderrText)")
        #expect(lines.text == "first\nsecond\n")
    }

    @Test(arguments: KubectlBinaries.versions)
    func errorsAreTheAPIServersWords(version: String) async throws {
        let f = try Fixture(version)
        defer { f.remove() }
        f.server.addPod(namespace: "blueking", name: "p", containers: [.init("c")], node: "node-x")
        f.server.setKubeletUnreachable(node: "node-x")
        let unreachable = try await f.kubectl.run(["logs", "-n", "blueking", "p", "-c", "c"])
        #expect(unreachable.status != 0)
        #expect(unreachable.stderrText.contains("Error from server: Get \"https://"), "\(unreachable.stderrText)")
        #expect(unreachable.stderrText.contains(":10250/containerLogs/blueking/p/c"))
        f.server.setKubeletUnreachable(node: "node-x", false)
        f.server.forbid("pods/log")
        let forbidden = try await f.kubectl.run(["logs", "-n", "blueking", "p", "-c", "c"])
        #expect(forbidden.stderrText.contains("Error from server (Forbidden): pods \"p\" is forbidden: User \"system:serviceaccount:casewatch:casewatch\" cannot get resource \"pods/log\""), "\(forbidden.stderrText)")
        let missing = try await f.kubectl.run(["get", "pod", "nope", "-n", "blueking"])
        #expect(missing.stderrText.contains("Error from server (NotFound): pods \"nope\" not found"), "\(missing.stderrText)")
        f.server.goDown(for: 60)
        let down = try await f.kubectl.run(["get", "pods", "-n", "blueking"])
        #expect(down.status != 0)
        #expect(down.stderrText.contains("The connection to the server 127.0.0.1:\(f.server.port) was refused"), "\(down.stderrText)")
    }

    @Test(arguments: KubectlBinaries.versions)
    func watchPrintsEventsAndEndsWhenTheServerGoesAway(version: String) async throws {
        let f = try Fixture(version)
        defer { f.remove() }
        f.server.addPod(namespace: "blueking", name: "a", containers: [.init("c")])
        final class Seen: @unchecked Sendable {
            let lock = NSLock()
            var text = ""
        }
        let seen = Seen()
        let server = f.server
        let out = try await f.kubectl.stream(["get", "pods", "-A", "--watch", "--output-watch-events", "-o", "json"], timeout: 20) { bytes in
            let text = seen.lock.withLock { seen.text += String(decoding: bytes, as: UTF8.self); return seen.text }
            if text.contains("\"a\"") && !text.contains("\"b\"") && !server.isDown {
                server.addPod(namespace: "blueking", name: "b", containers: [.init("c")])
            } else if text.contains("\"b\"") && !text.contains("DELETED") {
                server.deletePod(namespace: "blueking", name: "a")
            } else if text.contains("DELETED") {
                server.goDown(for: 30)  // ends the watch
            }
        }
        #expect(!out.timedOut, "\(out.stderrText)")
        #expect(seen.text.contains("{\"type\":\"ADDED\",\"object\":{") && seen.text.contains("{\"type\":\"DELETED\",\"object\":{"), "\(seen.text)")
    }

    @Test(arguments: KubectlBinaries.versions)
    func applyDryRunOfADaemonSet(version: String) async throws {
        let f = try Fixture(version)
        defer { f.remove() }
        let manifest = f.directory.appendingPathComponent("ds.yaml").path
        try """
            apiVersion: v1
            kind: ServiceAccount
            metadata: {name: casewatch, namespace: kube-system}
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata: {name: casewatch-read}
            rules:
            - apiGroups: [""]
              resources: [pods, pods/log, events, namespaces]
              verbs: [get, list, watch]
            ---
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: casewatch, namespace: kube-system}
            spec:
              selector: {matchLabels: {app: casewatch}}
              template:
                metadata: {labels: {app: casewatch}}
                spec:
                  containers:
                  - name: casewatch
                    image: casewatch:latest

            """.write(toFile: manifest, atomically: true, encoding: .utf8)
        // --validate=false: the server serves no OpenAPI documents (client-side schema checks).
        let out = try await f.kubectl.run(["apply", "--dry-run=client", "--validate=false", "-f", manifest])
        #expect(out.succeeded, "\(out.stderrText)")
        #expect(out.stdoutText.contains("daemonset.apps/casewatch created (dry run)"), "\(out.stdoutText)")
        #expect(out.stdoutText.contains("clusterrole.rbac.authorization.k8s.io/casewatch-read created (dry run)"))
    }
}

extension KubectlTests {
    @Test(arguments: KubectlBinaries.versions)
    func cancellingAStreamStopsKubectl(version: String) async throws {
        let f = try Fixture(version)
        defer { f.remove() }
        f.server.addPod(name: "p", containers: [.init("c")])
        f.server.appendLog(pod: "p", container: "c", ["first"])
        let kubectl = f.kubectl
        let server = f.server
        await withTaskGroup(of: Void.self) { group in
            group.addTask { _ = try? await kubectl.stream(["logs", "-f", "p", "-c", "c"]) { _ in } }
            group.addTask {
                while server.openLogStreams == 0 { try? await Task.sleep(for: .milliseconds(20)) }
            }
            await group.next()
            group.cancelAll()
            await group.waitForAll()
        }
        // The group returned: the stream's call ended on cancellation; and kubectl is gone.
        let deadline = Date().addingTimeInterval(5)
        while server.openLogStreams > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.openLogStreams == 0, "kubectl was stopped")
    }
}
