import Foundation
import TestSupport
import Testing

/// `casewatch triage` through the real kubectl against the loopback API of the Kubernetes tests
/// (`KubeAPIServer`).
@Suite struct TriageTests {
    /// The real kubectl binary of the installed SDK (the `kubectl` on PATH is its dispatcher).
    static func kubectl(_ version: String = "1.33") throws -> String {
        try #require(KubectlBinaries.path(version), "kubectl.\(version) must be installed beside the kubectl on PATH")
    }

    /// A test's cluster: the server, a kubeconfig, a kubectl cache, a directory for stand-ins.
    final class Cluster {
        let api: KubeAPIServer
        let dir: URL
        let kubeconfig: String
        init() throws {
            api = try KubeAPIServer()
            dir = Paths.temporaryDirectory("casewatch-triage")
            kubeconfig = dir.appendingPathComponent("kubeconfig").path
            try api.writeKubeconfig(to: kubeconfig)
        }
        deinit {
            api.stop()
            try? FileManager.default.removeItem(at: dir)
        }

        /// Generous time limits: the bounds are not what these tests check, and a loaded machine
        /// (parallel tests, builds) can hold a kubectl call for seconds.
        func triage(_ extra: [String], kubectl: String? = nil, path: String? = nil) throws -> CommandResult {
            let limits = extra.contains("--timeout") ? [] : ["--timeout", "240", "--call-timeout", "120"]
            var env = Paths.commandEnvironment
            // No helm unless the test puts its stand-in first on PATH.
            env["PATH"] = path ?? "/usr/bin:/bin"
            return try runCommand(
                Paths.casewatch,
                ["triage", "--kubeconfig", kubeconfig, "--kubectl", try kubectl ?? TriageTests.kubectl(),
                 "--kubectl-cache-dir", dir.appendingPathComponent("kube-cache").path] + limits + extra,
                environment: env)
        }
    }

    /// Healthy pods around the broken ones: running and ready, and a job that completed.
    static func addHealthy(_ api: KubeAPIServer) {
        api.addPod(namespace: "blueking", name: "bk-apigateway-7d9f8c6b5-x2k4p", containers: [.init("apigateway")])
        api.addPod(namespace: "blueking", name: "bk-mongodb-0", containers: [.init("mongodb")])
        api.addPod(namespace: "kube-system", name: "coredns-5d78c9869d-8xk2w", containers: [.init("coredns")])
        api.addPod(namespace: "blueking", name: "bk-paas-migrate-db-9f2lq", containers: [.init("migrate")], state: .terminated(reason: "Completed", exitCode: 0))
        api.overlayPod(namespace: "blueking", name: "bk-paas-migrate-db-9f2lq", ["status": ["phase": "Succeeded"]])
    }

    // MARK: - Elasticsearch, an unbound claim, nginx on IPv6

    static let esPod = "bk-elastic-elasticsearch-data-0"
    static let mysqlPod = "bk-mysql-mysql-0"
    static let gatewayPod = "bk-repo-bkrepo-gateway-6f7d8b9c4-q7r2t"
    let esPod = TriageTests.esPod, mysqlPod = TriageTests.mysqlPod, gatewayPod = TriageTests.gatewayPod

    /// A container in CrashLoopBackOff after `restarts` runs, the last one's log being `previous`
    /// and the run before... its current log `current`.
    static func crashLooping(_ api: KubeAPIServer, _ ns: String, _ pod: String, _ container: String, restarts: Int, backoff: String,
                             previous: [String], current: [String]) {
        let now = Date().timeIntervalSince1970
        api.appendLog(namespace: ns, pod: pod, container: container, previous, previous: true, at: now - 300)
        api.appendLog(namespace: ns, pod: pod, container: container, current, at: now - 60)
        api.setContainerState(
            namespace: ns, pod: pod, container: container,
            .waiting(reason: "CrashLoopBackOff", message: "back-off \(backoff) restarting failed container=\(container) pod=\(pod)_\(ns)(8c1f0a2e-5b7d-4c1e-9f3a-2d6b8e4c7a10)"),
            restartCount: restarts, lastTerminated: (reason: "Error", exitCode: 1))
        api.addEvent(namespace: ns, pod: pod, reason: "BackOff",
                     message: "Back-off restarting failed container \(container) in pod \(pod)_\(ns)(8c1f0a2e-5b7d-4c1e-9f3a-2d6b8e4c7a10)", count: 3 * restarts)
    }

    static func threeCaseCluster() throws -> Cluster {
        let cluster = try Cluster()
        let api = cluster.api
        addHealthy(api)
        // Elasticsearch crash-looping; its previous run could not resolve the master's service
        // (ES 7.x log4j layout of the Bitnami image: each warning followed by its stack trace).
        api.addPod(namespace: "blueking", name: esPod, containers: [.init("elasticsearch", image: "docker.io/bitnami/elasticsearch:7.16.3")])
        var esLines: [String] = []
        for i in 0..<4 {
            esLines += [
                "[2024-05-01T10:11:1\(i),345][WARN ][o.e.d.SeedHostsResolver  ] [\(esPod)] failed to resolve host [bk-elastic-elasticsearch-master.blueking.svc.cluster.local]",
                "java.net.UnknownHostException: bk-elastic-elasticsearch-master.blueking.svc.cluster.local",
                "\tat java.net.InetAddress$CachedAddresses.get(InetAddress.java:797) ~[?:?]",
            ]
        }
        crashLooping(api, "blueking", esPod, "elasticsearch", restarts: 6, backoff: "5m0s", previous: esLines, current: [
            "[2024-05-01T10:16:01,101][INFO ][o.e.n.Node               ] [\(esPod)] version[7.16.3], pid[1], build[default/tar/4e6e4eab2297e949ec994e688dad46290d018022/2022-01-06T23:43:02.825887787Z]",
            "[2024-05-01T10:16:09,872][INFO ][o.e.n.Node               ] [\(esPod)] starting ...",
        ])
        // MySQL Pending: its claim is not bound, so the scheduler does not place it (no node, no
        // container statuses yet).
        let unbound = "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.."
        api.addPod(namespace: "blueking", name: mysqlPod, containers: [.init("mysql")], state: .waiting(reason: "ContainerCreating", message: ""))
        api.overlayPod(namespace: "blueking", name: mysqlPod, [
            "spec": ["nodeName": "", "volumes": [["name": "data", "persistentVolumeClaim": ["claimName": "data-bk-mysql-mysql-0"]]]],
            "status": [
                "phase": "Pending", "containerStatuses": [Any](), "hostIP": "", "podIP": "",
                "conditions": [["type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": unbound]],
            ],
        ])
        api.addEvent(namespace: "blueking", pod: mysqlPod, reason: "FailedScheduling", message: unbound, component: "default-scheduler", host: nil, count: 7)
        // The bk-repo gateway: nginx cannot open its IPv6 listener.
        api.addPod(namespace: "blueking", name: gatewayPod, containers: [.init("gateway", image: "docker.io/bkrepo/gateway:1.1.31")])
        let nginx = ["nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)"]
        crashLooping(api, "blueking", gatewayPod, "gateway", restarts: 5, backoff: "2m40s", previous: nginx, current: nginx)
        // A Normal event of a healthy pod: read, not reported.
        api.addEvent(namespace: "blueking", pod: "bk-mongodb-0", type: "Normal", reason: "Pulled",
                     message: "Container image \"docker.io/bitnami/mongodb:4.2.4\" already present on machine")
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
        let cluster = try Self.threeCaseCluster()
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
        #expect(esRow["restarts"]?.hasPrefix("6 (") == true && esRow["restarts"]?.hasSuffix(" ago)") == true, "\(esRow)")
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
        let cluster = try Self.threeCaseCluster()
        let en = try cluster.triage(["--lang", "en", "-n", "blueking"])
        #expect(en.status == 0, "\(en.stderr)")
        #expect(en.stdout.contains("3 known cases found (3 pods not ready of 6)"), "\(en.stdout)")
        #expect(en.stdout.contains("     blueking/\(esPod)   0/1   CrashLoopBackOff   6 ("), "\(en.stdout)")
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
        Self.addHealthy(cluster.api)
        let r = try cluster.triage(["--lang", "en"])
        #expect(r.status == 1, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.hasPrefix("No known case found (0 pods not ready of 4)"), "\(r.stdout)")
        #expect(!r.stdout.contains("Could not read"))
        let j = try json(try cluster.triage(["--format", "json"]))
        #expect((j["cases"] as? [Any])?.isEmpty == true)
        #expect((j["looked_at"] as? [String: Any])?["pods_listed"] as? Int == 4)
    }

    @Test func forbiddenLogsAreReportedAndTheRestStillScanned() throws {
        let cluster = try Self.threeCaseCluster()
        // RBAC: the account may list pods and events but not read pods/log.
        cluster.api.forbid("pods/log")
        let r = try cluster.triage(["--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try json(r)
        let ids = Set(((o["cases"] as? [[String: Any]]) ?? []).compactMap { $0["case_id"] as? String })
        // Events and describes are still read: the claim, and the crash loops (whose logs could
        // not be read, so nothing explains them).
        #expect(ids == ["pod-unbound-immediate-pvc", "pod-crashloop-backoff"], "\(ids)")
        let problems = try #require(o["could_not_read"] as? [[String: Any]])
        #expect(problems.count == 4, "current and previous logs of the two crashing containers: \(problems)")
        #expect(problems.allSatisfy { $0["reason"] as? String == "forbidden" })
        #expect(problems.allSatisfy { ($0["message"] as? String)?.contains("Error from server (Forbidden)") == true })
        #expect(problems.allSatisfy { ($0["message"] as? String)?.contains("cannot get resource \"pods/log\"") == true })
        #expect(Set(problems.compactMap { $0["pod"] as? String }) == [esPod, gatewayPod])
        #expect((o["looked_at"] as? [String: Any])?["logs"] as? Int == 0)
        let text = try cluster.triage(["--lang", "en"])
        #expect(text.stdout.contains("Could not read (4):"), "\(text.stdout)")
        #expect(text.stdout.contains("kubectl logs blueking/\(esPod) -c elasticsearch: forbidden (RBAC): Error from server (Forbidden)"), "\(text.stdout)")
    }

    @Test func anUnreachableKubeletIsReportedAndIsACase() throws {
        let cluster = try Cluster()
        let api = cluster.api
        Self.addHealthy(api)
        // The kubelet of node-3 cannot be reached (a firewall on 10250): its pods' logs fail.
        api.addPod(namespace: "bk-monitor", name: "bk-monitor-alarm-0", containers: [.init("alarm")], node: "node-3")
        api.appendLog(namespace: "bk-monitor", pod: "bk-monitor-alarm-0", container: "alarm", ["started"])
        api.setContainerState(namespace: "bk-monitor", pod: "bk-monitor-alarm-0", container: "alarm", .running, restartCount: 2, lastTerminated: (reason: "Error", exitCode: 1))
        api.overlayPod(namespace: "bk-monitor", name: "bk-monitor-alarm-0", ["status": ["conditions": [["type": "Ready", "status": "False"]]]])
        api.setKubeletUnreachable(node: "node-3")
        let r = try cluster.triage(["--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try json(r)
        let cases = (o["cases"] as? [[String: Any]]) ?? []
        #expect(cases.compactMap { $0["case_id"] as? String } == ["kubelet-port-unreachable"])
        let problems = try #require(o["could_not_read"] as? [[String: Any]])
        #expect(problems.map { $0["reason"] as? String } == ["kubelet_unreachable", "kubelet_unreachable"], "its current and previous log: \(problems)")
        let unreachable = try #require(cases.first)
        #expect((unreachable["pods"] as? [[String: String]])?.first?["pod"] == "bk-monitor-alarm-0")
        let commands = (unreachable["fix"] as? [String: Any])?["commands"] as? [String] ?? []
        #expect(commands.contains { $0.hasPrefix("curl -k https://10.0.0.") && $0.hasSuffix(":10250/healthz") }, "\(commands)")
    }

    /// A log call that hangs is stopped at --call-timeout, reported, and the rest still is. The
    /// loopback server cannot hold a request, so a wrapper stands in for kubectl where a log is
    /// asked for (it hangs, as kubectl does behind a kubelet that does not answer); every other
    /// call runs the real kubectl.
    @Test func hangingCallsAreCutAndTheRestIsReported() throws {
        let cluster = try Self.threeCaseCluster()
        let wrapper = cluster.dir.appendingPathComponent("kubectl-hanging-logs").path
        try """
            #!/bin/sh
            for a in "$@"; do [ "$a" = logs ] && exec sleep 120; done
            exec '\(try Self.kubectl())' "$@"

            """.write(toFile: wrapper, atomically: true, encoding: .utf8)
        chmod(wrapper, 0o755)
        let r = try cluster.triage(["--format", "json", "--call-timeout", "5", "--timeout", "200", "--concurrency", "4"], kubectl: wrapper)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try json(r)
        let ids = Set(((o["cases"] as? [[String: Any]]) ?? []).compactMap { $0["case_id"] as? String })
        #expect(ids == ["pod-unbound-immediate-pvc", "pod-crashloop-backoff"], "what the lists and events show: \(ids)")
        let problems = try #require(o["could_not_read"] as? [[String: Any]])
        #expect(problems.count == 4, "\(problems)")
        #expect(problems.allSatisfy { $0["reason"] as? String == "timeout" && $0["message"] as? String == "no answer within the time limit" })
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
        let cluster = try Self.threeCaseCluster()
        let r = try cluster.triage(["--format", "json"], kubectl: try Self.kubectl(version))
        #expect(r.status == 0, "\(r.stderr)")
        let ids = Set(((try json(r)["cases"] as? [[String: Any]]) ?? []).compactMap { $0["case_id"] as? String })
        #expect(ids == ["es-cluster-dns-unresolvable", "pod-unbound-immediate-pvc", "bkrepo-gateway-ipv6-disabled"])
    }

    /// 500 pods, 50 of them not ready (Elasticsearch and gateway pods crash-looping, database
    /// pods Pending on a claim): triage reads all of it and names the cases. How long it takes is
    /// a benchmark figure (scripts/bench/triage.sh, docs/PERFORMANCE.md), not asserted here.
    @Test func fiveHundredPodsFiftyNotReady() throws {
        let cluster = try Cluster()
        let api = cluster.api
        let namespaces = ["blueking", "bk-monitor", "bk-ci", "bcs-system", "kube-system"]
        for i in 0..<450 {
            api.addPod(namespace: namespaces[i % namespaces.count], name: "app-\(i)-7d9f8c6b5-x2k4p", containers: [.init("app"), .init("sidecar")])
        }
        let esLines = (0..<5).map {
            "[2024-05-01T10:11:1\($0),345][WARN ][o.e.d.SeedHostsResolver  ] [node] failed to resolve host [bk-elastic-elasticsearch-master.blueking.svc.cluster.local]"
        }
        for i in 0..<20 {
            let name = "bk-elastic-elasticsearch-data-\(i)"
            api.addPod(namespace: "blueking", name: name, containers: [.init("elasticsearch")])
            Self.crashLooping(api, "blueking", name, "elasticsearch", restarts: 4, backoff: "2m40s", previous: esLines, current: ["starting ..."])
        }
        for i in 0..<15 {
            let name = "bk-repo-gateway-\(i)"
            api.addPod(namespace: "bk-ci", name: name, containers: [.init("gateway")])
            let nginx = ["nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)"]
            Self.crashLooping(api, "bk-ci", name, "gateway", restarts: 3, backoff: "1m20s", previous: nginx, current: nginx)
        }
        let unbound = "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.."
        for i in 0..<15 {
            let name = "bk-mysql-\(i)"
            api.addPod(namespace: "bk-monitor", name: name, containers: [.init("mysql")], state: .waiting(reason: "ContainerCreating", message: ""))
            api.overlayPod(namespace: "bk-monitor", name: name, [
                "spec": ["volumes": [["name": "data", "persistentVolumeClaim": ["claimName": "data-\(name)"]]]],
                "status": ["phase": "Pending", "containerStatuses": [Any](), "conditions": [["type": "PodScheduled", "status": "False", "reason": "Unschedulable"]]],
            ])
            api.addEvent(namespace: "bk-monitor", pod: name, reason: "FailedScheduling", message: unbound, component: "default-scheduler", host: nil, count: 4)
        }
        // scripts/bench/triage.sh varies the number of kubectl processes at once.
        let concurrency = ProcessInfo.processInfo.environment["CASEWATCH_TRIAGE_CONCURRENCY"] ?? "8"
        let started = ContinuousClock.now
        let r = try cluster.triage(["--format", "json", "--concurrency", concurrency])
        let elapsed = ContinuousClock.now - started
        #expect(r.status == 0, "\(r.stderr)")
        let o = try json(r)
        let looked = try #require(o["looked_at"] as? [String: Any])
        #expect(looked["pods_listed"] as? Int == 500)
        #expect(looked["pods_not_ready"] as? Int == 50)
        #expect(looked["logs"] as? Int == 70, "current and previous of the 35 crashing containers")
        #expect((o["could_not_read"] as? [Any])?.isEmpty == true, "\(o["could_not_read"] ?? "")")
        let cases = (o["cases"] as? [[String: Any]]) ?? []
        let pods = Dictionary(uniqueKeysWithValues: cases.map { ($0["case_id"] as? String ?? "", ($0["pods"] as? [Any])?.count ?? 0) })
        #expect(pods == ["es-cluster-dns-unresolvable": 20, "bkrepo-gateway-ipv6-disabled": 15, "pod-unbound-immediate-pvc": 15], "\(pods)")
        print("casewatch triage: 500 pods, 50 not ready, concurrency \(concurrency), \(api.requests.count) API requests: \(elapsed)")
    }

    @Test func badOptionsAreUsageErrors() throws {
        let cluster = try Cluster()
        for args in [["--since", "yesterday"], ["-n", "blueking", "-A"], ["--concurrency", "0"]] {
            let r = try cluster.triage(args)
            #expect(r.status == 2, "\(args)")
        }
    }
}
