import Foundation
import Testing

@testable import casewatch

/// The `kubectl get pods` row triage prints for a pod, against what kubectl's printer
/// (pkg/printers/internalversion printPod) shows for the same status.
@Suite struct TriagePodRowTests {
    static let now = 1_796_022_440.0  // 2026-11-30T07:07:20Z

    static func pod(_ status: String, spec: String = #"{"containers":[{"name":"a"}]}"#, metadata: String = "") throws -> TriagePod {
        let json = #"{"metadata":{"name":"p","namespace":"ns","creationTimestamp":"2026-11-30T06:07:20Z"\#(metadata)},"spec":\#(spec),"status":\#(status)}"#
        return try JSONDecoder().decode(TriagePod.self, from: Data(json.utf8))
    }

    static let twoInits = #"{"initContainers":[{"name":"i1"},{"name":"i2"}],"containers":[{"name":"a"}]}"#

    @Test(arguments: [
        // Pending, not scheduled: the phase.
        (#"{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False"}]}"#, nil, nil, "0/1", "Pending", "0"),
        // A container waiting: its reason.
        (#"{"phase":"Pending","containerStatuses":[{"name":"a","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ContainerCreating"}}}]}"#, nil, nil, "0/1", "ContainerCreating", "0"),
        // Crash loop with restarts and the time of the last one.
        (#"{"phase":"Running","containerStatuses":[{"name":"a","ready":false,"restartCount":6,"state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"exitCode":1,"reason":"Error","finishedAt":"2026-11-30T07:05:20Z"}}}]}"#, nil, nil, "0/1", "CrashLoopBackOff", "6 (2m ago)"),
        // Init containers: the first not done decides, Init:N/M while one runs.
        (#"{"phase":"Pending","initContainerStatuses":[{"name":"i1","restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},{"name":"i2","restartCount":0,"state":{"running":{}}}],"containerStatuses":[{"name":"a","ready":false,"restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}"#, twoInits, nil, "0/1", "Init:1/2", "0"),
        (#"{"phase":"Pending","initContainerStatuses":[{"name":"i1","restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}],"containerStatuses":[{"name":"a","ready":false,"restartCount":0,"state":{"waiting":{"reason":"PodInitializing"}}}]}"#, twoInits, nil, "0/1", "Init:CrashLoopBackOff", "3"),
        (#"{"phase":"Pending","initContainerStatuses":[{"name":"i1","restartCount":0,"state":{"terminated":{"exitCode":2}}}]}"#, twoInits, nil, "0/1", "Init:ExitCode:2", "0"),
        // A container's reason wins over the pod's (Evicted), as in kubectl.
        (#"{"phase":"Failed","reason":"Evicted","containerStatuses":[{"name":"a","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":137,"reason":"OOMKilled"}}}]}"#, nil, nil, "0/1", "OOMKilled", "0"),
        // One container done, one running but not ready: NotReady.
        (#"{"phase":"Running","conditions":[{"type":"Ready","status":"False"}],"containerStatuses":[{"name":"a","ready":false,"restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},{"name":"b","ready":true,"restartCount":0,"state":{"running":{}}}]}"#, #"{"containers":[{"name":"a"},{"name":"b"}]}"#, nil, "1/2", "NotReady", "0"),
        // Being deleted.
        (#"{"phase":"Running","containerStatuses":[{"name":"a","ready":true,"restartCount":0,"state":{"running":{}}}]}"#, nil, #","deletionTimestamp":"2026-11-30T07:07:00Z""#, "1/1", "Terminating", "0"),
    ] as [(String, String?, String?, String, String, String)])
    func rowsAsKubectlPrintsThem(status: String, spec: String?, metadata: String?, ready: String, shown: String, restarts: String) throws {
        let p = try Self.pod(status, spec: spec ?? #"{"containers":[{"name":"a"}]}"#, metadata: metadata ?? "")
        let row = p.row(now: Self.now)
        #expect(row.ready == ready)
        #expect(row.status == shown)
        #expect(row.restarts == restarts)
        #expect(row.age == "60m")
    }

    @Test(arguments: [(59.0, "59s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (10_799, "179m"), (10_800, "3h"), (11_000, "3h3m"), (108_000, "30h"), (180_000, "2d2h"), (864_000, "10d"), (69_120_000, "2y70d")] as [(Double, String)])
    func agesAsKubectlPrintsThem(seconds: Double, text: String) {
        #expect(TriagePod.humanDuration(seconds) == text)
    }

    @Test func completedAndReadyPodsAreLeftOut() throws {
        #expect(try !Self.pod(#"{"phase":"Succeeded"}"#).isUnhealthy)
        #expect(try !Self.pod(#"{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}"#).isUnhealthy)
        #expect(try Self.pod(#"{"phase":"Running","conditions":[{"type":"Ready","status":"False"}]}"#).isUnhealthy)
        #expect(try Self.pod(#"{"phase":"Pending"}"#).isUnhealthy)
    }

    @Test func theLogPlanReadsWhatRan() throws {
        let p = try Self.pod(
            #"{"phase":"Running","initContainerStatuses":[{"name":"i1","restartCount":0,"state":{"terminated":{"exitCode":0}}}],"containerStatuses":[{"name":"a","ready":false,"restartCount":4,"state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"exitCode":1}}},{"name":"b","ready":true,"restartCount":0,"state":{"running":{}}},{"name":"c","ready":false,"restartCount":0,"state":{"running":{}}},{"name":"d","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ImagePullBackOff"}}}]}"#,
            spec: #"{"initContainers":[{"name":"i1"}],"containers":[{"name":"a"},{"name":"b"},{"name":"c"},{"name":"d"}]}"#)
        let plan = TriageCollector.logPlan(p).map { "\($0.container)\($0.previous ? " -p" : "")" }
        #expect(plan == ["a", "a -p", "c"], "the crash loop's both logs, the running one that is not ready; not the ready one, the image never pulled or the init container that finished")
    }
}
