import CaseCatalog
import LogSources
import Testing

/// The `kubectl logs --prefix` form, and casewatch's own with the namespace (what
/// `casewatch triage --output-dir` writes).
@Suite struct KubectlPrefixTests {
    func origins(_ text: String, base: Origin = Origin(kind: .file, name: "f", file: "f")) -> [(Origin, String, Double)] {
        let batch = RecordBatch()
        Array(text.utf8).withUnsafeBytes {
            KubectlPrefix.split($0, into: batch, base: base, firstLine: 1, time: 7, truncatedAt: nil)
        }
        return batch.records.map { ($0.origin, String(decoding: $0.line, as: UTF8.self), $0.time) }
    }

    @Test(arguments: [
        // kubectl's own: pod and container; the namespace is the base's.
        ("[pod/bk-repo-0/gateway] nginx: [emerg] x", nil, "bk-repo-0", "gateway", "nginx: [emerg] x"),
        // casewatch's: the namespace first.
        ("[pod/blueking/bk-repo-0/gateway] nginx: [emerg] x", "blueking", "bk-repo-0", "gateway", "nginx: [emerg] x"),
        // a line of the whole pod (its status, its events): no container
        ("[pod/blueking/bk-repo-0/]   Warning  BackOff  3m  kubelet  Back-off", "blueking", "bk-repo-0", nil, "  Warning  BackOff  3m  kubelet  Back-off"),
        // a line of the namespace
        ("[pod/blueking//] bk-repo  blueking  1  failed", "blueking", nil, nil, "bk-repo  blueking  1  failed"),
    ] as [(String, String?, String?, String?, String)])
    func theFormsSetTheOrigin(line: String, namespace: String?, pod: String?, container: String?, text: String) {
        let r = origins(line + "\n")
        #expect(r.count == 1)
        #expect(r[0].0.namespace == namespace)
        #expect(r[0].0.pod == pod)
        #expect(r[0].0.container == container)
        #expect(r[0].0.kind == .kubectl)
        #expect(r[0].1 == text)
    }

    @Test func theNameIsWhereTheLineComesFrom() {
        let r = origins("[pod/blueking/bk-repo-0/gateway] a\n[pod/blueking/bk-repo-0/] b\n[pod/x-0/c] c\n", base: Origin(kind: .file, name: "f", namespace: "ns"))
        #expect(r.map(\.0.name) == ["blueking/bk-repo-0/gateway", "blueking/bk-repo-0", "ns/x-0/c"])
    }

    @Test func timestampsStillSetTheTime() {
        let r = origins("[pod/blueking/es-0/es] 2026-11-30T07:07:20.572774000Z failed to resolve host [x]\n")
        #expect(r[0].1 == "failed to resolve host [x]")
        #expect(abs(r[0].2 - 1_796_022_440.572774) < 1e-5)
    }

    @Test(arguments: [
        "[pod/a/b/c/d] four names",  // more than namespace/pod/container
        "[pod//b/c] no namespace",
        "[pod/ns//c] a container without a pod",
        "[pod/a/] kubectl's form with an empty container",
        "[pod/a] one name",
    ])
    func otherBracketsAreText(line: String) {
        let r = origins(line + "\n")
        #expect(r[0].0.kind == .file, "\(line)")
        #expect(r[0].1 == line)
    }
}
