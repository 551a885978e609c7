import Foundation
import LogSources
import Testing

/// The pure parts of the Kubernetes source: times, the JSON stream, the line memory, and the
/// layouts (pod status rows, describe-style events, kubectl's errors) the catalog matches.
@Suite struct KubernetesRecordTests {
    @Test(arguments: [
        ("2026-11-30T07:01:13.123456789Z", Int64(1_796_022_073_123_456_789)),
        ("2026-11-30T07:01:13.1234Z", Int64(1_796_022_073_123_400_000)),  // Go's RFC3339Nano drops trailing zeros
        ("2026-11-30T07:01:13Z", Int64(1_796_022_073_000_000_000)),
        ("2026-11-30T08:01:13+01:00", Int64(1_796_022_073_000_000_000)),
    ])
    func kubernetesTimes(text: String, nanos: Int64) {
        #expect(KubeTime.nanos(text) == nanos)
    }

    @Test func timesRoundTripAndBadOnesAreRefused() {
        let n = KubeTime.nanos("2026-11-30T07:01:13.000000042Z")!
        #expect(KubeTime.format(n) == "2026-11-30T07:01:13.000000042Z")
        #expect(KubeTime.formatWholeSeconds(n) == "2026-11-30T07:01:13Z")
        #expect(KubeTime.nanos("2026-11-30 07:01:13Z") == nil)
        #expect(KubeTime.nanos("2026-13-30T07:01:13Z") == nil)
        #expect(KubeTime.nanos("2026-11-30T07:01:13.Z") == nil)
        #expect(KubeTime.nanos("yesterday") == nil)
    }

    @Test func jsonObjectsAcrossChunksAndInsideStrings() {
        let text = #"{"type":"ADDED","object":{"message":"a } and { in \"quotes\""}}"# + "\n" + "{\n  \"type\": \"DELETED\"\n}\n"
        var splitter = JSONObjectSplitter()
        var objects: [String] = []
        for byte in Array(text.utf8) { splitter.feed([byte]) { objects.append(String(decoding: $0, as: UTF8.self)) } }
        #expect(objects.count == 2)
        #expect(objects.first?.hasSuffix(#"\"quotes\""}}"#) == true)
        #expect(objects.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
    }

    func admit(_ d: inout StreamDeduper, _ time: Int64, _ text: String, previous: Bool = false) -> Bool {
        Array(text.utf8).withUnsafeBytes { previous ? d.admitPrevious(time: time, text: $0) : d.admitFollowed(time: time, text: $0) }
    }

    @Test func theLastSecondComesAgainAndIsSkipped() {
        var d = StreamDeduper(floor: 100)
        #expect(!admit(&d, 100, "at the saved position"))
        #expect(admit(&d, 1_000, "a"))
        #expect(admit(&d, 1_000, "b"), "same time, other text: a new line")
        #expect(admit(&d, 2_000, "c"))
        // Resumed with --since-time at the whole second: a, b, c again, then d.
        #expect(!admit(&d, 1_000, "a") && !admit(&d, 1_000, "b") && !admit(&d, 2_000, "c"))
        #expect(admit(&d, 2_500, "d"))
    }

    @Test func aPreviousLogReadAfterTheNewContainerStartedOnlyAddsWhatWasMissed() {
        var d = StreamDeduper(floor: 0)
        #expect(admit(&d, 10, "old 1") && admit(&d, 20, "old 2"))
        #expect(admit(&d, 100, "new 1"), "the new container's stream went first")
        #expect(!admit(&d, 10, "old 1", previous: true) && !admit(&d, 20, "old 2", previous: true))
        #expect(admit(&d, 30, "the crash reason, never followed", previous: true))
        #expect(!admit(&d, 30, "the crash reason, never followed", previous: true))
    }

    @Test func theMemoryIsBounded() {
        var d = StreamDeduper(floor: 0, capacity: 4)
        for t in 1...10 { #expect(admit(&d, Int64(t), "line \(t)")) }
        #expect(!admit(&d, 3, "line 3", previous: true), "older than everything remembered: read before")
        #expect(!admit(&d, 10, "line 10"))
    }

    func pod(waiting reason: String? = nil, restarts: Int = 0, terminated: String? = nil, initWaiting: String? = nil) -> [String: Any] {
        var state: [String: Any] = ["running": ["startedAt": "2026-11-30T07:00:00Z"]]
        if let reason { state = ["waiting": ["reason": reason]] }
        if let terminated { state = ["terminated": ["reason": terminated, "exitCode": 137] as [String: Any]] }
        var container: [String: Any] = [:]
        container["name"] = "es"
        container["ready"] = reason == nil && terminated == nil
        container["restartCount"] = restarts
        container["state"] = state
        let last: [String: Any] = ["terminated": ["reason": "Error", "finishedAt": "2026-11-30T07:58:00Z"]]
        container["lastState"] = restarts > 0 ? last : [String: Any]()
        var status: [String: Any] = ["phase": "Running"]
        status["containerStatuses"] = [container]
        if let initWaiting {
            let initState: [String: Any] = ["waiting": ["reason": initWaiting]]
            let initStatus: [String: Any] = ["name": "init", "restartCount": 0, "state": initState]
            status["initContainerStatuses"] = [initStatus]
        }
        let metadata: [String: Any] = ["name": "bk-es-master-0", "namespace": "blueking", "creationTimestamp": "2026-11-30T07:50:00Z"]
        let spec: [String: Any] = ["nodeName": "node-1", "containers": [["name": "es"]]]
        return ["metadata": metadata, "spec": spec, "status": status]
    }

    @Test func podStatusRowsAsKubectlGetPodsShowsThem() throws {
        let now = Double(KubeTime.nanos("2026-11-30T08:00:00Z")!) / 1e9
        let crash = try #require(PodStatusRow(pod: pod(waiting: "CrashLoopBackOff", restarts: 5)))
        #expect(crash.line(now: now) == "blueking   bk-es-master-0   0/1   CrashLoopBackOff   5 (2m ago)   10m")
        #expect(crash.isNotable && crash.container == "es")
        #expect(PodStatusRow(pod: pod(terminated: "OOMKilled"))?.status == "OOMKilled")
        #expect(PodStatusRow(pod: pod(initWaiting: "ImagePullBackOff"))?.status == "Init:ImagePullBackOff")
        let fine = try #require(PodStatusRow(pod: pod()))
        #expect(fine.status == "Running" && !fine.isNotable)
        #expect(PodStatusRow(pod: pod(waiting: "ContainerCreating"))?.isNotable == false)
    }

    @Test func eventsAsKubectlDescribeShowsThem() throws {
        let now = Double(KubeTime.nanos("2026-11-30T08:00:00Z")!) / 1e9
        let e = try #require(EventLine(event: [
            "metadata": ["name": "x.1", "namespace": "blueking", "uid": "u1"],
            "involvedObject": ["kind": "Pod", "name": "bk-job-0", "namespace": "blueking", "fieldPath": "spec.containers{job}"],
            "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container",
            "source": ["component": "kubelet", "host": "node-1"], "count": 25,
            "firstTimestamp": "2026-11-30T07:53:00Z", "lastTimestamp": "2026-11-30T07:57:50Z",
        ]))
        #expect(e.line(now: now) == "Warning  BackOff  2m10s (x25 over 7m)  kubelet  Back-off restarting failed container")
        #expect(e.container == "job" && e.host == "node-1" && e.involvedName == "bk-job-0")
    }

    @Test(arguments: [
        (#"Error from server: Get "https://10.0.1.3:10250/containerLogs/blueking/p/c?follow=true": dial tcp 10.0.1.3:10250: connect: no route to host"#, KubectlFailure.Kind.kubelet, "10.0.1.3"),
        ("The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?", .apiServer, "127.0.0.1:6443"),
        (#"Unable to connect to the server: dial tcp: lookup k8s.example on 10.0.0.2:53: no such host"#, .apiServer, nil),
        ("Unable to connect to the server: x509: certificate signed by unknown authority", .certificate, nil),
        (#"Error from server (Forbidden): pods "p" is forbidden: User "u" cannot get resource "pods/log" in API group "" in the namespace "n""#, .forbidden, nil),
        (#"Error from server (BadRequest): container "c" in pod "p" is waiting to start: ContainerCreating"#, .notReady, nil),
        (#"Error from server (NotFound): pods "p" not found"#, .notFound, nil),
    ] as [(String, KubectlFailure.Kind, String?)])
    func kubectlErrorsAndTheirCauses(line: String, kind: KubectlFailure.Kind, host: String?) throws {
        let f = try #require(KubectlFailure.parse("W1130 07:01:13.123456   123 loader.go:222] a warning\n\(line)\n").first)
        #expect(f.kind == kind)
        #expect(f.line == line)
        if let host { #expect(f.host == host) }
    }
}
