import Foundation
import TestSupport
import Testing

/// `casewatch triage` through the real kubectl against the loopback API of `TriageKubeAPI`.
@Suite struct TriageTests {
    let now = Date().timeIntervalSince1970

    /// The real kubectl binary of the installed SDK (the `kubectl` on PATH is its dispatcher).
    static func kubectl(_ version: String = "1.33") throws -> String {
        let onPath = try #require(
            (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/kubectl" }
                .first { FileManager.default.isExecutableFile(atPath: $0) },
            "kubectl must be on PATH")
        let dir = URL(fileURLWithPath: onPath).resolvingSymlinksInPath().deletingLastPathComponent()
        let versioned = dir.appendingPathComponent("kubectl.\(version)").path
        return FileManager.default.isExecutableFile(atPath: versioned) ? versioned : onPath
    }

    /// A test's cluster: the server, a kubeconfig, a kubectl cache, a directory for stand-ins.
    final class Cluster {
        let api: TriageKubeAPI
        let dir: URL
        let kubeconfig: String
        init() throws {
            api = try TriageKubeAPI()
            dir = Paths.temporaryDirectory("casewatch-triage")
            kubeconfig = dir.appendingPathComponent("kubeconfig").path
            try api.writeKubeconfig(to: kubeconfig)
        }
        deinit {
            api.stop()
            try? FileManager.default.removeItem(at: dir)
        }

        func triage(_ extra: [String], kubectl: String? = nil, path: String? = nil) throws -> CommandResult {
            var env = Paths.commandEnvironment
            // No helm unless the test puts its stand-in first on PATH.
            env["PATH"] = path ?? "/usr/bin:/bin"
            return try runCommand(
                Paths.casewatch,
                ["triage", "--kubeconfig", kubeconfig, "--kubectl", try kubectl ?? TriageTests.kubectl(),
                 "--kubectl-cache-dir", dir.appendingPathComponent("kube-cache").path] + extra,
                environment: env)
        }
    }

    // MARK: - Pods as the API server returns them

    enum State {
        case running(ready: Bool)
        case waiting(String, message: String?)
        case terminated(String, exitCode: Int)
    }

    func ts(_ agoSeconds: Double) -> String { TriageKubeAPI.rfc3339(now - agoSeconds) }

    func pod(
        _ ns: String, _ name: String, phase: String = "Running", containers: [(name: String, state: State, restarts: Int)],
        claim: String? = nil, scheduled: String? = nil, node: String = "node-1", hostIP: String = "10.0.1.3"
    ) -> [String: Any] {
        var statuses: [[String: Any]] = []
        var allReady = true
        for c in containers {
            var s: [String: Any] = ["name": c.name, "restartCount": c.restarts, "image": "example/\(c.name):1", "ready": false]
            switch c.state {
            case .running(let ready):
                s["state"] = ["running": ["startedAt": ts(600)]]
                s["ready"] = ready
                if !ready { allReady = false }
            case .waiting(let reason, let message):
                var w: [String: Any] = ["reason": reason]
                if let message { w["message"] = message }
                s["state"] = ["waiting": w]
                allReady = false
            case .terminated(let reason, let code):
                s["state"] = ["terminated": ["reason": reason, "exitCode": code, "startedAt": ts(900), "finishedAt": ts(800)]]
                allReady = false
            }
            if c.restarts > 0 {
                s["lastState"] = ["terminated": ["reason": "Error", "exitCode": 1, "startedAt": ts(760), "finishedAt": ts(700)]]
            }
            statuses.append(s)
        }
        var conditions: [[String: Any]] = []
        if let scheduled {
            conditions.append(["type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": scheduled])
            allReady = false
        } else {
            conditions.append(["type": "PodScheduled", "status": "True"])
            conditions.append(["type": "Initialized", "status": "True"])
            conditions.append(["type": "Ready", "status": phase == "Succeeded" ? "False" : (allReady ? "True" : "False")])
        }
        var spec: [String: Any] = ["containers": containers.map { ["name": $0.name, "image": "example/\($0.name):1"] }]
        if scheduled == nil { spec["nodeName"] = node }
        if let claim { spec["volumes"] = [["name": "data", "persistentVolumeClaim": ["claimName": claim]]] }
        var status: [String: Any] = ["phase": phase, "conditions": conditions]
        if scheduled == nil {
            status["containerStatuses"] = statuses
            status["hostIP"] = hostIP
            status["podIP"] = "10.244.1.\(abs(name.hashValue) % 200 + 2)"
            status["startTime"] = ts(1200)
        }
        return [
            "metadata": ["name": name, "namespace": ns, "uid": UUID().uuidString.lowercased(), "creationTimestamp": ts(1200)],
            "spec": spec, "status": status,
        ]
    }

    func event(_ ns: String, kind: String = "Pod", _ object: String, type: String = "Warning", _ reason: String, _ message: String,
               from: String, count: Int = 1) -> [String: Any] {
        [
            "metadata": ["name": "\(object).\(UUID().uuidString.prefix(8))", "namespace": ns, "creationTimestamp": ts(600)],
            "involvedObject": ["kind": kind, "name": object, "namespace": ns],
            "reason": reason, "message": message, "type": type, "count": count,
            "firstTimestamp": ts(600), "lastTimestamp": ts(30), "source": ["component": from],
        ]
    }

    /// Lines written `ago` seconds back, one a second.
    func log(_ lines: [String], endingAgo ago: Double = 130) -> TriageKubeAPI.Log {
        TriageKubeAPI.Log(lines.enumerated().map { (now - ago - Double(lines.count - $0.offset), $0.element) })
    }

    /// Healthy pods around the broken ones: running and ready, and a job that completed.
    func addHealthy(_ api: TriageKubeAPI) {
        api.addPod(pod("blueking", "bk-apigateway-7d9f8c6b5-x2k4p", containers: [("apigateway", .running(ready: true), 0)]))
        api.addPod(pod("blueking", "bk-mongodb-0", containers: [("mongodb", .running(ready: true), 0)]))
        api.addPod(pod("kube-system", "coredns-5d78c9869d-8xk2w", containers: [("coredns", .running(ready: true), 0)]))
        api.addPod(pod("blueking", "bk-paas-migrate-db-9f2lq", phase: "Succeeded", containers: [("migrate", .terminated("Completed", exitCode: 0), 0)]))
    }

    // MARK: - Elasticsearch, an unbound claim, nginx on IPv6

    let esPod = "bk-elastic-elasticsearch-data-0"
    let mysqlPod = "bk-mysql-mysql-0"
    let gatewayPod = "bk-repo-bkrepo-gateway-6f7d8b9c4-q7r2t"

    func threeCaseCluster() throws -> Cluster {
        let cluster = try Cluster()
        let api = cluster.api
        addHealthy(api)
        // Elasticsearch crash-looping; its previous run could not resolve the master's service
        // (ES 7.x log4j layout of the Bitnami image: each warning followed by its stack trace).
        api.addPod(pod("blueking", esPod, containers: [
            ("elasticsearch", .waiting("CrashLoopBackOff", message: "back-off 5m0s restarting failed container=elasticsearch pod=\(esPod)_blueking(8c1f0a2e-5b7d-4c1e-9f3a-2d6b8e4c7a10)"), 6)
        ]))
        var esLines: [String] = []
        for i in 0..<4 {
            esLines += [
                "[2024-05-01T10:11:1\(i),345][WARN ][o.e.d.SeedHostsResolver  ] [\(esPod)] failed to resolve host [bk-elastic-elasticsearch-master.blueking.svc.cluster.local]",
                "java.net.UnknownHostException: bk-elastic-elasticsearch-master.blueking.svc.cluster.local",
                "\tat java.net.InetAddress$CachedAddresses.get(InetAddress.java:797) ~[?:?]",
            ]
        }
        api.setLog(namespace: "blueking", pod: esPod, container: "elasticsearch", previous: true, log(esLines))
        api.setLog(namespace: "blueking", pod: esPod, container: "elasticsearch", log([
            "[2024-05-01T10:16:01,101][INFO ][o.e.n.Node               ] [\(esPod)] version[7.16.3], pid[1], build[default/tar/4e6e4eab2297e949ec994e688dad46290d018022/2022-01-06T23:43:02.825887787Z]",
            "[2024-05-01T10:16:09,872][INFO ][o.e.n.Node               ] [\(esPod)] starting ...",
        ], endingAgo: 20))
        api.addEvent(event("blueking", esPod, "BackOff", "Back-off restarting failed container elasticsearch in pod \(esPod)_blueking(8c1f0a2e-5b7d-4c1e-9f3a-2d6b8e4c7a10)", from: "kubelet", count: 24))
        // MySQL Pending: its claim is not bound.
        let unbound = "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.."
        api.addPod(pod("blueking", mysqlPod, phase: "Pending", containers: [("mysql", .waiting("ContainerCreating", message: nil), 0)],
                       claim: "data-bk-mysql-mysql-0", scheduled: unbound))
        api.addEvent(event("blueking", mysqlPod, "FailedScheduling", unbound, from: "default-scheduler", count: 7))
        // The bk-repo gateway: nginx cannot open its IPv6 listener.
        api.addPod(pod("blueking", gatewayPod, containers: [("gateway", .waiting("CrashLoopBackOff", message: "back-off 2m40s restarting failed container=gateway pod=\(gatewayPod)_blueking(0d3e9b71-6a2c-4f58-8e1d-7b5c9a0f2e43)"), 5)]))
        let nginx = ["nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)"]
        api.setLog(namespace: "blueking", pod: gatewayPod, container: "gateway", previous: true, log(nginx))
        api.setLog(namespace: "blueking", pod: gatewayPod, container: "gateway", log(nginx, endingAgo: 10))
        api.addEvent(event("blueking", gatewayPod, "BackOff", "Back-off restarting failed container gateway in pod \(gatewayPod)_blueking(0d3e9b71-6a2c-4f58-8e1d-7b5c9a0f2e43)", from: "kubelet", count: 19))
        // A Normal event of a healthy pod: read, not reported.
        api.addEvent(event("blueking", "bk-mongodb-0", type: "Normal", "Pulled", "Container image \"docker.io/bitnami/mongodb:4.2.4\" already present on machine", from: "kubelet"))
        return cluster
    }

    /// helm cannot be installed here (no registry this machine reaches ships it), so a stand-in
    /// `helm` script on PATH prints what `helm list -A --failed --pending -o json` prints (helm 3,
    /// cmd/helm/list.go: an array of name, namespace, revision, updated, status, chart,
    /// app_version; `updated` is Go's time.Time String form) and records its arguments.
    func helmStandIn(in dir: URL) throws -> (path: String, arguments: String) {
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let arguments = dir.appendingPathComponent("helm-arguments").path
        let script = """
            #!/bin/sh
            printf '%s\\n' "$@" > '\(arguments)'
            cat <<'EOF'
            [{"name":"bk-repo","namespace":"blueking","revision":"1","updated":"2024-05-01 10:02:11.532017713 +0800 CST","status":"failed","chart":"bkrepo-1.1.31","app_version":"1.1.31"},{"name":"bk-elastic","namespace":"blueking","revision":"2","updated":"2024-05-01 10:05:40.10233021 +0800 CST","status":"pending-upgrade","chart":"elasticsearch-17.9.29","app_version":"7.16.3"}]
            EOF

            """
        let path = bin.appendingPathComponent("helm").path
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return (bin.path + ":/usr/bin:/bin", arguments)
    }

    func json(_ r: CommandResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)\n\(r.stderr)")
    }

    @Test func threeCasesNamedWithTheirPodsInOneRun() throws {
        let cluster = try threeCaseCluster()
        let helm = try helmStandIn(in: cluster.dir)
        let out = cluster.dir.appendingPathComponent("collected").path
        let r = try cluster.triage(["--format", "json", "--output-dir", out], path: helm.path)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try json(r)
        let cases = try #require(o["cases"] as? [[String: Any]])
        let ids = cases.compactMap { $0["case_id"] as? String }
        #expect(Set(ids) == ["es-cluster-dns-unresolvable", "pod-unbound-immediate-pvc", "bkrepo-gateway-ipv6-disabled"], "\(ids)")
        #expect(ids.count == 3)
        // Most severe first: the two critical cases, then the error.
        #expect(ids.last == "pod-unbound-immediate-pvc")
        func pods(_ id: String) -> [String] {
            ((cases.first { $0["case_id"] as? String == id }?["pods"] as? [[String: String]]) ?? []).map { "\($0["namespace"]!)/\($0["pod"]!)" }
        }
        #expect(pods("es-cluster-dns-unresolvable") == ["blueking/\(esPod)"])
        #expect(pods("pod-unbound-immediate-pvc") == ["blueking/\(mysqlPod)"])
        #expect(pods("bkrepo-gateway-ipv6-disabled") == ["blueking/\(gatewayPod)"])
        // The crash loops are the two specific cases, not a fourth.
        let es = try #require(cases.first { $0["case_id"] as? String == "es-cluster-dns-unresolvable" })
        #expect(es["explains"] as? [String] == ["pod-crashloop-backoff"])
        // The fix with the names filled in: the claim comes from the pod's spec.
        let pvc = try #require(cases.first { $0["case_id"] as? String == "pod-unbound-immediate-pvc" })
        let commands = (pvc["fix"] as? [String: Any])?["commands"] as? [String] ?? []
        #expect(commands.contains("kubectl describe pvc -n blueking data-bk-mysql-mysql-0"), "\(commands)")
        // What it looked at.
        let looked = try #require(o["looked_at"] as? [String: Any])
        #expect(looked["pods_not_ready"] as? Int == 3)
        #expect(looked["pods_listed"] as? Int == 7)
        #expect(looked["logs"] as? Int == 4, "current and previous of the two crashing containers")
        #expect(looked["events"] as? Int == 3)
        #expect((o["could_not_read"] as? [Any])?.isEmpty == true, "\(o["could_not_read"] ?? "")")
        let rows = try #require(o["pods"] as? [[String: String]])
        let esRow = try #require(rows.first { $0["name"] == esPod })
        #expect(esRow["ready"] == "0/1")
        #expect(esRow["status"] == "CrashLoopBackOff")
        #expect(esRow["restarts"] == "6 (11m ago)")
        #expect(rows.first { $0["name"] == mysqlPod }?["status"] == "Pending")
        // The helm part, from the stand-in.
        let h = try #require(o["helm"] as? [String: Any])
        #expect(h["state"] as? String == "read")
        #expect((h["releases"] as? [[String: Any]])?.compactMap { $0["status"] as? String } == ["failed", "pending-upgrade"])
        let helmArgs = try String(contentsOfFile: helm.arguments, encoding: .utf8).split(separator: "\n")
        #expect(Array(helmArgs.prefix(6)) == ["list", "-A", "--failed", "--pending", "-o", "json"], "\(helmArgs)")

        // The files keep the origins: `casewatch scan DIR/*` finds the same cases again (and the
        // crash loops triage told under them).
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files.contains("pods.log"))
        #expect(files.contains("blueking_\(esPod).describe.log"))
        #expect(files.contains("blueking_\(esPod)_elasticsearch.1-previous.log"))
        let previous = try String(contentsOfFile: "\(out)/blueking_\(esPod)_elasticsearch.1-previous.log", encoding: .utf8)
        #expect(previous.hasPrefix("[pod/blueking/\(esPod)/elasticsearch] 20"), "the prefix form, with the kubelet's timestamp")
        let scan = try runCommand(Paths.casewatch, ["scan", "--count"] + files.map { "\(out)/\($0)" }, environment: Paths.commandEnvironment)
        #expect(scan.status == 0, "\(scan.stderr)")
        let scanned = Set(scan.stdout.split(separator: "\n").compactMap { $0.split(separator: "\t").last.map(String.init) })
        #expect(scanned == Set(ids).union(["pod-crashloop-backoff"]), "\(scan.stdout)")
        let scanJSON = try runCommand(Paths.casewatch, ["scan", "--format", "json"] + files.map { "\(out)/\($0)" }, environment: Paths.commandEnvironment)
        let ipv6 = try #require(scanJSON.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.first { $0["case_id"] as? String == "bkrepo-gateway-ipv6-disabled" })
        let origin = try #require(ipv6["origin"] as? [String: Any], "\(ipv6)")
        #expect(origin["namespace"] as? String == "blueking")
        #expect(origin["pod"] as? String == gatewayPod)
    }

    @Test func textReportInBothLanguages() throws {
        let cluster = try threeCaseCluster()
        let en = try cluster.triage(["--lang", "en", "-n", "blueking"])
        #expect(en.status == 0, "\(en.stderr)")
        #expect(en.stdout.contains("3 known cases found (3 pods not ready of 6)"), "\(en.stdout)")
        #expect(en.stdout.contains("     blueking/\(esPod)   0/1   CrashLoopBackOff   6 (11m ago)   20m"), "\(en.stdout)")
        #expect(en.stdout.contains("$ kubectl describe pvc -n blueking data-bk-mysql-mysql-0"))
        #expect(en.stdout.contains("Looked at: 3 pods, 4 logs, 3 events (namespace blueking)"), "\(en.stdout)")
        #expect(en.stdout.contains("helm: skipped (helm is not on PATH)"))
        let critical = try #require(en.stdout.range(of: "[critical]"))
        let error = try #require(en.stdout.range(of: "[error]"))
        #expect(critical.lowerBound < error.lowerBound, "most severe first")
        let zh = try cluster.triage(["--lang", "zh", "-n", "blueking"])
        #expect(zh.status == 0)
        #expect(zh.stdout.contains("发现 3 个已知案例"), "\(zh.stdout)")
        #expect(zh.stdout.contains("已查看："))
    }

    @Test func healthyClusterReportsNothingAndExitsOne() throws {
        let cluster = try Cluster()
        addHealthy(cluster.api)
        let r = try cluster.triage(["--lang", "en"])
        #expect(r.status == 1, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.hasPrefix("No known case found (0 pods not ready of 4)"), "\(r.stdout)")
        #expect(!r.stdout.contains("Could not read"))
        let j = try json(try cluster.triage(["--format", "json"]))
        #expect((j["cases"] as? [Any])?.isEmpty == true)
        #expect((j["looked_at"] as? [String: Any])?["pods_listed"] as? Int == 4)
    }

    @Test func forbiddenLogsAreReportedAndTheRestStillScanned() throws {
        let cluster = try threeCaseCluster()
        let api = cluster.api
        // RBAC: the service account may list pods and events but not read pods/log in blueking.
        api.failLogs(namespace: "blueking", .forbidden(user: "system:serviceaccount:ops:triage"))
        // Another node's kubelet cannot be reached (firewall on 10250).
        api.addPod(pod("bk-monitor", "bk-monitor-alarm-0", containers: [("alarm", .running(ready: false), 2)], node: "node-3", hostIP: "10.0.1.7"))
        api.failLogs(namespace: "bk-monitor", pod: "bk-monitor-alarm-0", .kubeletUnreachable(nodeIP: "10.0.1.7"))
        let r = try cluster.triage(["--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try json(r)
        let ids = Set(((o["cases"] as? [[String: Any]]) ?? []).compactMap { $0["case_id"] as? String })
        // Events and describes are still read: the claim and the crash loops (whose logs could
        // not be read, so nothing explains them), and the kubelet out of reach is a case itself.
        #expect(ids == ["pod-unbound-immediate-pvc", "pod-crashloop-backoff", "kubelet-port-unreachable"], "\(ids)")
        let problems = try #require(o["could_not_read"] as? [[String: Any]])
        let forbidden = problems.filter { $0["reason"] as? String == "forbidden" }
        #expect(forbidden.count == 4, "current and previous logs of the two crashing containers: \(problems)")
        #expect(forbidden.allSatisfy { ($0["message"] as? String)?.contains("Error from server (Forbidden)") == true })
        #expect(forbidden.allSatisfy { ($0["message"] as? String)?.contains("cannot get resource \"pods/log\"") == true })
        let kubelet = problems.filter { $0["reason"] as? String == "kubelet_unreachable" }
        #expect(kubelet.map { $0["pod"] as? String } == ["bk-monitor-alarm-0", "bk-monitor-alarm-0"])
        let unreachable = try #require((o["cases"] as? [[String: Any]])?.first { $0["case_id"] as? String == "kubelet-port-unreachable" })
        let commands = (unreachable["fix"] as? [String: Any])?["commands"] as? [String] ?? []
        #expect(commands.contains { $0.contains("10.0.1.7:10250") }, "\(commands)")
        #expect((o["looked_at"] as? [String: Any])?["logs"] as? Int == 0)
        let text = try cluster.triage(["--lang", "en"])
        #expect(text.stdout.contains("Could not read (6):"), "\(text.stdout)")
        #expect(text.stdout.contains("kubectl logs blueking/\(esPod) -c elasticsearch: forbidden (RBAC)"), "\(text.stdout)")
    }

    @Test func anUnreachableClusterExitsTwo() throws {
        let cluster = try Cluster()
        cluster.api.stop()  // the port is closed now: nothing answers there
        let r = try cluster.triage(["--timeout", "20"])
        #expect(r.status == 2, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stderr.contains("Failed to reach the Kubernetes cluster"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test(arguments: ["1.27"]) func anOlderKubectlGivesTheSameCases(version: String) throws {
        let cluster = try threeCaseCluster()
        let r = try cluster.triage(["--format", "json"], kubectl: try Self.kubectl(version))
        #expect(r.status == 0, "\(r.stderr)")
        let ids = Set(((try json(r)["cases"] as? [[String: Any]]) ?? []).compactMap { $0["case_id"] as? String })
        #expect(ids == ["es-cluster-dns-unresolvable", "pod-unbound-immediate-pvc", "bkrepo-gateway-ipv6-disabled"])
    }

    @Test func badOptionsAreUsageErrors() throws {
        let cluster = try Cluster()
        for args in [["--since", "yesterday"], ["-n", "blueking", "-A"], ["--concurrency", "0"]] {
            let r = try cluster.triage(args)
            #expect(r.status == 2, "\(args)")
        }
    }
}
