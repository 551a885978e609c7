import Foundation
import TestSupport
import Testing

/// Issue #10's scenarios: `casewatch run` follows pod logs, events and pod status through the
/// real kubectl (the oldest and the newest installed) against the suite's loopback API server.
/// Every scenario runs with both transports: `kubectl-logs` (one kubectl per stream) and
/// `kubectl-proxy` (one `kubectl proxy`, HTTP through it).
@Suite struct KubernetesSourceTests {
    static let versions = KubectlBinaries.versions
    static let transports = ["kubectl-logs", "kubectl-proxy"]

    func lines(_ range: ClosedRange<Int>) -> [String] { range.map { "probe-line \($0) payload" } }

    /// Each number alerted exactly once, and all of them.
    func expectExactlyOnce(_ seen: [Int], _ range: ClosedRange<Int>, sourceLocation: SourceLocation = #_sourceLocation) {
        var counts: [Int: Int] = [:]
        for n in seen { counts[n, default: 0] += 1 }
        let missing = range.filter { counts[$0] == nil }
        let twice = counts.filter { $0.value > 1 }.keys.sorted()
        #expect(missing.isEmpty, "lines lost: \(missing)", sourceLocation: sourceLocation)
        #expect(twice.isEmpty, "lines alerted twice: \(twice)", sourceLocation: sourceLocation)
        #expect(Set(counts.keys) == Set(range), sourceLocation: sourceLocation)
    }

    @Test(arguments: versions, transports)
    func aPodThatAppearsWhileRunningIsFollowed(version: String, transport: String) throws {
        let h = try KubernetesHarness(kubectl: version, transport: transport)
        try h.configure()
        try h.start()
        let appeared = Date()
        h.server.addPod(namespace: "blueking", name: "bk-web-0", containers: [.init("web")], initContainers: [.init("setup")])
        h.server.appendLog(namespace: "blueking", pod: "bk-web-0", container: "setup", ["probe-line 1 from the init container"])
        h.server.appendLog(namespace: "blueking", pod: "bk-web-0", container: "web", ["probe-line 2 from the app"])
        let alerts = h.awaitAlerts(count: 2) { $0["case_id"] as? String == "probe" }
        // The delay, for docs/PERFORMANCE.md (the alerts are polled every 50 ms).
        print(String(format: "a new pod's alerts, %@ kubectl %@: %.2f s after the pod appeared", transport, version, Date().timeIntervalSince(appeared)))
        #expect(alerts.count == 2, "\(h.daemon?.stderr ?? "")")
        let web = try #require(alerts.first { $0.origin("container") == "web" })
        #expect(web.origin("namespace") == "blueking" && web.origin("pod") == "bk-web-0" && web.origin("kind") == "kubectl")
        #expect(alerts.contains { $0.origin("container") == "setup" }, "init containers are followed too")
    }

    @Test(arguments: versions, transports)
    func aStreamClosedMidwayResumesWithNoLineLostOrRepeated(version: String, transport: String) throws {
        let h = try KubernetesHarness(kubectl: version, transport: transport)
        h.server.addPod(name: "p", containers: [.init("c")])
        try h.configure()
        try h.start()
        // Many lines in the same second: --since-time (whole seconds, inclusive) sends them again.
        h.server.appendLog(pod: "p", container: "c", lines(1...40))
        h.awaitProbes(1...40)
        h.server.closeLogStreams(pod: "p")
        h.server.appendLog(pod: "p", container: "c", lines(41...80))
        h.server.closeLogStreams(pod: "p")
        h.server.appendLog(pod: "p", container: "c", lines(81...100))
        expectExactlyOnce(h.awaitProbes(1...100), 1...100)
        let follows = h.server.requests.filter { $0.contains("/pods/p/log") && $0.contains("follow=true") }
        #expect(follows.count >= 2, "the stream was resumed: \(follows)")
        #expect(follows.dropFirst().allSatisfy { $0.contains("sinceTime=") })
    }

    @Test(arguments: versions, transports)
    func aRestartedContainersPreviousLogIsReadOnce(version: String, transport: String) throws {
        let h = try KubernetesHarness(kubectl: version, transport: transport)
        // Already restarted when the daemon starts: its previous log holds the crash reason.
        h.server.addPod(name: "crashed", containers: [.init("c")])
        h.server.appendLog(pod: "crashed", container: "c", ["probe-line 1 the reason it crashed"])
        h.server.restartContainer(pod: "crashed", container: "c")
        h.server.addPod(name: "p", containers: [.init("c")])
        try h.configure()
        try h.start()
        h.server.appendLog(pod: "p", container: "c", lines(2...5))
        h.awaitProbes(1...5)
        h.server.restartContainer(pod: "p", container: "c")
        h.server.appendLog(pod: "p", container: "c", lines(6...9))
        expectExactlyOnce(h.awaitProbes(1...9), 1...9)
        // The previous log of p adds no alert (its lines were followed live): wait for its read.
        let deadline = Date().addingTimeInterval(30)
        func previousReads() -> [String] { h.server.requests.filter { $0.contains("previous=true") } }
        while !previousReads().contains(where: { $0.contains("/pods/p/log") }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        expectExactlyOnce(h.probeNumbers, 1...9)
        let previous = previousReads()
        #expect(previous.filter { $0.contains("/pods/crashed/log") }.count == 1 && previous.filter { $0.contains("/pods/p/log") }.count == 1, "each previous log read once: \(previous)")
    }

    @Test(arguments: versions, transports)
    func anAPIOutageIsRetriedAndNothingIsLost(version: String, transport: String) throws {
        let h = try KubernetesHarness(kubectl: version, transport: transport)
        h.server.addPod(name: "p", containers: [.init("c")])
        try h.configure()
        try h.start()
        h.server.appendLog(pod: "p", container: "c", lines(1...10))
        h.awaitProbes(1...10)
        // The issue's 30 s outage, shortened to 3 s (the daemon's backoffs are short too).
        h.server.goDown(for: 3)
        h.server.appendLog(pod: "p", container: "c", lines(11...20))  // the kubelet keeps writing
        let failing = h.awaitAlerts(count: 1, timeout: 30) { $0["case_id"] as? String == "casewatch-source-failing" }
        #expect(!failing.isEmpty, "the outage raises casewatch-source-failing")
        h.server.appendLog(pod: "p", container: "c", lines(21...30))
        expectExactlyOnce(h.awaitProbes(1...30), 1...30)
        #expect(h.daemon?.isRunning == true)
    }

    @Test(arguments: versions, transports)
    func maxStreamsHoldsAndEveryPodIsRead(version: String, transport: String) throws {
        let h = try KubernetesHarness(kubectl: version, transport: transport)
        for i in 1...200 {
            h.server.addPod(namespace: "load", name: "pod-\(i)", containers: [.init("c")])
            h.server.appendLog(namespace: "load", pod: "pod-\(i)", container: "c", ["probe-line \(i)"])
        }
        let port = try MetricsEndToEndTests.freePort()
        try h.configure("max_streams: 50", metricsPort: port)
        try h.start()
        expectExactlyOnce(h.awaitProbes(1...200, timeout: 90), 1...200)
        // The daemon's own count: the most streams that held a slot at once (the gauge is
        // reported every few seconds: wait for it).
        let series = #"casewatch_kubernetes_streams{state="peak"}"#
        var peak: Double?
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let text = try? MetricsEndToEndTests.get("http://127.0.0.1:\(port)/metrics").1, let v = MetricsEndToEndTests.value(text, series), v > 0 {
                peak = v
                break
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        print("max_streams 50, \(transport) kubectl \(version): daemon peak \(peak.map { "\(Int($0))" } ?? "none"), server saw \(h.server.maxOpenLogStreams) log streams at once")
        #expect(peak != nil && peak! <= 50, "at most max_streams streams at once in the daemon: \(String(describing: peak))")
        #expect((peak ?? 0) >= 10, "streams run side by side")
        if transport == "kubectl-logs" {
            #expect(h.server.maxOpenLogStreams <= 50, "at most max_streams kubectl logs -f at once")
        } else {
            // At the server, through kubectl proxy: a stream that gives its slot up is closed by
            // the daemon at once, but the proxy closes its side to the server a little later,
            // while the next stream already started (in milliseconds, where a new kubectl takes
            // 100+ ms): the server sees those closes in flight.
            #expect(h.server.maxOpenLogStreams <= 50 + 25, "at most max_streams streams at once, plus closes in flight: \(h.server.maxOpenLogStreams)")
        }
        #expect(h.server.maxOpenLogStreams >= 10, "streams run side by side")
    }

    @Test(arguments: versions, transports)
    func eventsAndPodStatusFireTheirCases(version: String, transport: String) throws {
        let h = try KubernetesHarness(kubectl: version, transport: transport)
        try h.configure(dedup: true)
        try h.start()
        h.server.addPod(namespace: "blueking", name: "bk-job-0", containers: [.init("job")], state: .waiting(reason: "ContainerCreating", message: ""))
        h.server.addEvent(
            namespace: "blueking", pod: "bk-job-0", reason: "FailedScheduling",
            message: "0/3 nodes are available: 3 Insufficient memory.", component: "default-scheduler", host: nil)
        h.server.addEvent(
            namespace: "blueking", pod: "bk-job-0", reason: "Failed",
            message: "Failed to pull image \"hub.bktencent.com/blueking/bk-job-gateway:3.7.5\": rpc error: code = Unknown desc = Error response from daemon: manifest for hub.bktencent.com/blueking/bk-job-gateway:3.7.5 not found: manifest unknown: manifest unknown")
        // A crash loop that prints nothing: only the pod status shows it.
        h.server.addPod(namespace: "blueking", name: "bk-es-master-0", containers: [.init("es")])
        h.server.setContainerState(
            namespace: "blueking", pod: "bk-es-master-0", container: "es",
            .waiting(reason: "CrashLoopBackOff", message: "back-off 5m0s restarting failed container"), restartCount: 5,
            lastTerminated: ("Error", 1))
        let wanted = ["pod-pending-unschedulable", "pod-image-manifest-unknown", "pod-crashloop-backoff"]
        let alerts = h.awaitAlerts(count: 3) { wanted.contains($0["case_id"] as? String ?? "") }
        for id in wanted {
            let a = alerts.first { $0["case_id"] as? String == id }
            #expect(a != nil, "\(id) fired: \(h.alerts.map { $0["case_id"] ?? "" }) \(h.daemon?.stderr ?? "")")
            #expect(a?.origin("namespace") == "blueking")
        }
        #expect(alerts.first { $0["case_id"] as? String == "pod-crashloop-backoff" }?.origin("pod") == "bk-es-master-0")
        #expect(alerts.first { $0["case_id"] as? String == "pod-pending-unschedulable" }?.origin("pod") == "bk-job-0")
        // A repeated event counts once per new occurrence, the old ones are not scanned again.
        h.server.addEvent(namespace: "blueking", pod: "bk-job-0", reason: "FailedScheduling", message: "0/3 nodes are available: 3 Insufficient memory.", component: "default-scheduler", host: nil, count: 2, name: "bk-job-0.sched")
        let status = try #require(alerts.first { $0["case_id"] as? String == "pod-crashloop-backoff" }?["line"] as? String)
        #expect(status.contains("bk-es-master-0   0/1   CrashLoopBackOff   5 ("), "\(status)")
    }

    /// One instance per node (`node:`, as the DaemonSet sets it): its node's pods and kubelet
    /// events, and the events of no node (a pod no node took), but not another node's.
    @Test(arguments: versions, transports)
    func withNodeOnlyThatNodesPodsAndTheEventsOfNoNode(version: String, transport: String) throws {
        let h = try KubernetesHarness(kubectl: version, transport: transport)
        h.server.addPod(namespace: "blueking", name: "here", containers: [.init("c")], node: "node-a")
        h.server.addPod(namespace: "blueking", name: "there", containers: [.init("c")], node: "node-b")
        h.server.appendLog(namespace: "blueking", pod: "here", container: "c", ["probe-line 1"])
        h.server.appendLog(namespace: "blueking", pod: "there", container: "c", ["probe-line 2"])
        try h.configure("node: node-a", dedup: true)
        try h.start()
        // Another node's kubelet about its pod: not this instance's.
        h.server.addEvent(
            namespace: "blueking", pod: "there", reason: "Failed",
            message: "Failed to pull image \"hub.bktencent.com/blueking/bk-there:1.0\": rpc error: code = Unknown desc = Error response from daemon: manifest for hub.bktencent.com/blueking/bk-there:1.0 not found: manifest unknown: manifest unknown",
            host: "node-b")
        // The scheduler about a pod no node took: every instance's.
        h.server.addEvent(
            namespace: "blueking", pod: "pending-0", reason: "FailedScheduling",
            message: "0/3 nodes are available: 3 Insufficient memory.", component: "default-scheduler", host: nil)
        // This node's kubelet: this instance's (and it comes after the other node's event).
        h.server.addEvent(
            namespace: "blueking", pod: "here", reason: "Failed",
            message: "Failed to pull image \"hub.bktencent.com/blueking/bk-here:1.0\": rpc error: code = Unknown desc = Error response from daemon: manifest for hub.bktencent.com/blueking/bk-here:1.0 not found: manifest unknown: manifest unknown",
            host: "node-a")
        let pulls = h.awaitAlerts(count: 1) { $0["case_id"] as? String == "pod-image-manifest-unknown" }
        #expect(pulls.first?.origin("pod") == "here", "\(pulls)")
        let pending = h.awaitAlerts(count: 1) { $0["case_id"] as? String == "pod-pending-unschedulable" }
        #expect(pending.first?.origin("pod") == "pending-0", "\(h.alerts.map { $0["case_id"] ?? "" }) \(h.daemon?.stderr ?? "")")
        expectExactlyOnce(h.awaitProbes(1...1), 1...1)
        // The events came in order: the other node's was read (and left) before this node's.
        #expect(!h.alerts.contains { ($0["line"] as? String ?? "").contains("bk-there") || $0.origin("pod") == "there" }, "\(h.alerts)")
    }

    @Test(arguments: versions, transports)
    func kubectlErrorsAreRecordsOncePerCause(version: String, transport: String) throws {
        let h = try KubernetesHarness(kubectl: version, transport: transport)
        h.server.addPod(namespace: "blueking", name: "a", containers: [.init("c")], node: "node-x")
        h.server.addPod(namespace: "blueking", name: "b", containers: [.init("c")], node: "node-x")
        h.server.setKubeletUnreachable(node: "node-x")
        try h.configure(dedup: false)
        try h.start()
        let alerts = h.awaitAlerts(count: 1) { $0["case_id"] as? String == "kubelet-port-unreachable" }
        #expect(alerts.count == 1, "\(h.alerts.map { $0["case_id"] ?? "" }) \(h.daemon?.stderr ?? "")")
        // Both pods' streams fail and retry; the cause (the node's kubelet) is reported once.
        let deadline = Date().addingTimeInterval(30)
        while h.server.requests.filter({ $0.contains("/log?") }).count < 6 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(h.alerts.filter { $0["case_id"] as? String == "kubelet-port-unreachable" }.count == 1)
        h.server.setKubeletUnreachable(node: "node-x", false)
        h.server.appendLog(namespace: "blueking", pod: "a", container: "c", ["probe-line 1"])
        h.awaitProbes(1...1)
        #expect(h.probeNumbers == [1], "the stream recovered")
    }

    @Test(arguments: versions, transports)
    func sigkillAndRestartLoseNothingAndAlertNothingTwice(version: String, transport: String) throws {
        let h = try KubernetesHarness(kubectl: version, transport: transport)
        h.server.addPod(name: "p", containers: [.init("c")])
        try h.configure()
        try h.start()
        h.server.appendLog(pod: "p", container: "c", lines(1...30))
        h.awaitProbes(1...30)
        let last = h.server.appendLog(pod: "p", container: "c", lines(31...31)).first ?? ""
        h.awaitProbes(31...31)
        // Killed once the position of line 31 is saved: what was handed over is not read again.
        #expect(h.awaitState { (($0["positions"] as? [String: Any])?["kubernetes/default/p/c"] as? [String: Any]).map { "\($0)".contains(last) } ?? false })
        h.kill()
        h.server.appendLog(pod: "p", container: "c", lines(32...60))  // written while the daemon is down
        try h.start()
        h.server.appendLog(pod: "p", container: "c", lines(61...70))
        expectExactlyOnce(h.awaitProbes(1...70), 1...70)
    }

    @Test(arguments: versions)
    func aKilledKubectlProxyIsRestartedAndStreamsResume(version: String) throws {
        let h = try KubernetesHarness(kubectl: version, transport: "kubectl-proxy")
        h.server.addPod(name: "p", containers: [.init("c")])
        h.server.addPod(name: "q", containers: [.init("c")])
        try h.configure()
        try h.start()
        h.server.appendLog(pod: "p", container: "c", lines(1...20))
        h.server.appendLog(pod: "q", container: "c", lines(21...30))
        h.awaitProbes(1...30)
        let first = try #require(h.proxyPID(), "the daemon runs kubectl proxy")
        #expect(h.server.requests.filter { $0.contains("follow=true") }.count >= 2)
        Foundation.kill(first, SIGKILL)
        // Written while the proxy is dead or restarting.
        h.server.appendLog(pod: "p", container: "c", lines(31...50))
        h.server.appendLog(pod: "q", container: "c", lines(51...60))
        expectExactlyOnce(h.awaitProbes(1...60), 1...60)
        let deadline = Date().addingTimeInterval(30)
        var second = h.proxyPID()
        while (second == nil || second == first) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            second = h.proxyPID()
        }
        #expect(second != nil && second != first, "a new kubectl proxy runs")
        h.server.appendLog(pod: "p", container: "c", lines(61...70))
        expectExactlyOnce(h.awaitProbes(1...70), 1...70)
        #expect(h.daemon?.isRunning == true)
        #expect(!h.alerts.contains { $0["case_id"] as? String == "casewatch-source-failing" }, "a proxy restart is not a cluster failure")
    }
}
