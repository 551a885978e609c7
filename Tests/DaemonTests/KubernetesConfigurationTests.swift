import Daemon
import Foundation
import LogSources
import Testing

/// `sources.kubernetes`: every key of the issue's fixed set, its defaults, and clear refusals.
@Suite struct KubernetesConfigurationTests {
    @Test func everyKeyIsRead() throws {
        let text = """
            sources:
              kubernetes:
                kubeconfig: /etc/casewatch/kubeconfig
                context: prod
                kubectl: /usr/local/bin/kubectl
                transport: kubectl-logs
                namespaces: [blueking, bcs-system]
                selector: app=web
                node: "${NODE_NAME}"
                events: false
                status: no
                max_streams: 50
                since: 30m
            """
        let k = try #require(try DaemonConfiguration.parse(text, path: "k.yaml", environment: ["NODE_NAME": "node-7"]).sources.kubernetes)
        #expect(k.kubeconfig == "/etc/casewatch/kubeconfig" && k.context == "prod" && k.kubectl == "/usr/local/bin/kubectl")
        #expect(k.transport == .kubectlLogs && k.namespaces == ["blueking", "bcs-system"] && k.selector == "app=web")
        #expect(k.node == "node-7" && !k.events && !k.status && k.maxStreams == 50 && k.since == 1800)
    }

    @Test func defaults() throws {
        let k = try #require(try DaemonConfiguration.parse("sources:\n  kubernetes: {}\n", path: "k.yaml").sources.kubernetes)
        #expect(k.kubeconfig == nil && k.kubectl == "kubectl" && k.transport == .kubectlLogs && k.namespaces.isEmpty)
        #expect(k.events && k.status && k.maxStreams == 100 && k.since == 3600)
        // kubectl runs with its cache under casewatch's cache directory, never $HOME/.kube.
        let kubectl = KubernetesSourceService.kubectl(for: k, cacheDirectory: "/var/cache/casewatch/kubectl")
        #expect(kubectl.arguments(["get", "pods"], requestTimeout: 30).contains("--cache-dir=/var/cache/casewatch/kubectl"))
    }

    @Test func kubectlProxyTransport() throws {
        let k = try #require(try DaemonConfiguration.parse("sources:\n  kubernetes: {transport: kubectl-proxy}\n", path: "k.yaml").sources.kubernetes)
        #expect(k.transport == .kubectlProxy)
    }

    @Test(arguments: [
        ("sources:\n  kubernetes: {transport: grpc}\n", "bad.yaml:2: sources.kubernetes.transport: expected kubectl-logs or kubectl-proxy, got 'grpc'"),
        ("sources:\n  kubernetes: {max_streams: 0}\n", "bad.yaml:2: sources.kubernetes.max_streams: expected a whole number of at least 1, got '0'"),
        ("sources:\n  kubernetes: {kubeconfig: kube/config}\n", "bad.yaml:2: sources.kubernetes.kubeconfig: expected an absolute path, got 'kube/config'"),
        ("sources:\n  kubernetes: {since: forever}\n", "bad.yaml:2: sources.kubernetes.since: expected a duration such as 90s, 10m or 1h, got 'forever'"),
        ("sources:\n  kubernetes: {namespace: [a]}\n", "bad.yaml:2: sources.kubernetes.namespace: unknown key (allowed: kubeconfig, context, kubectl, transport, namespaces, selector, node, events, status, max_streams, since)"),
    ])
    func refusals(text: String, expected: String) {
        do {
            _ = try DaemonConfiguration.parse(text, path: "bad.yaml", environment: [:])
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description == expected)
        }
    }
}
