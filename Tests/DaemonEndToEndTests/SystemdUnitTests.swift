import Foundation
import LogSources
import TestSupport
import Testing

/// The installed unit, `systemd/casewatch.service.in` after `make install`: checked offline
/// (`systemd-analyze verify`, `systemd-analyze security --offline=yes`) and run under a real
/// systemd booted as PID 1 of a private namespace (`BootedSystemd`). Needs root.
@Suite(.serialized) struct SystemdUnitTests {
    static let crashLoop = RunJournaldTests.crashLoop

    /// `make install DESTDIR=… CASEWATCH_BIN=…` into a staging directory; its path.
    static func stagedInstall() throws -> URL {
        let dest = Paths.root.appendingPathComponent(".build/destdir-\(UUID().uuidString.prefix(8))")
        let r = try runCommand(
            "/usr/bin/make", ["-s", "-C", Paths.root.path, "install", "DESTDIR=\(dest.path)", "CASEWATCH_BIN=\(Paths.casewatch)"],
            environment: Paths.commandEnvironment)
        guard r.status == 0 else { throw IsolatedJournald.Failure("make install failed: \(r.stdout)\n\(r.stderr)") }
        return dest
    }

    @Test func makeInstallAndUninstallIntoADestdir() throws {
        let dest = try Self.stagedInstall()
        defer { try? FileManager.default.removeItem(at: dest) }
        let fm = FileManager.default
        for path in [
            "usr/local/bin/casewatch", "usr/local/lib/systemd/system/casewatch.service",
            "usr/local/lib/systemd/catalog/casewatch.catalog", "usr/local/share/casewatch/patterns",
            "usr/local/share/doc/casewatch/CASES.md", "etc/casewatch/casewatch.yaml",
        ] {
            #expect(fm.fileExists(atPath: dest.appendingPathComponent(path).path), "\(path)")
        }
        let unit = try String(contentsOf: dest.appendingPathComponent("usr/local/lib/systemd/system/casewatch.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/casewatch run") && !unit.contains("@BINDIR@") && !unit.contains("@DOCDIR@"))
        let catalog = try String(contentsOf: dest.appendingPathComponent("usr/local/lib/systemd/catalog/casewatch.catalog"), encoding: .utf8)
        #expect(catalog.contains("Documentation: file:///usr/local/share/doc/casewatch/CASES.md#pod-crashloop-backoff"))

        // An edited configuration survives a second install; the new default goes beside it.
        let config = dest.appendingPathComponent("etc/casewatch/casewatch.yaml")
        try "# edited\nlanguage: en\n".write(to: config, atomically: true, encoding: .utf8)
        _ = try Self.stagedInstallAgain(dest)
        #expect(try String(contentsOf: config, encoding: .utf8) == "# edited\nlanguage: en\n")
        #expect(fm.fileExists(atPath: config.path + ".default"))

        // Uninstall removes what install wrote, not the operator's configuration.
        let r = try runCommand("/usr/bin/make", ["-s", "-C", Paths.root.path, "uninstall", "DESTDIR=\(dest.path)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!fm.fileExists(atPath: dest.appendingPathComponent("usr/local/bin/casewatch").path))
        #expect(!fm.fileExists(atPath: dest.appendingPathComponent("usr/local/lib/systemd/system/casewatch.service").path))
        #expect(!fm.fileExists(atPath: dest.appendingPathComponent("usr/local/share/casewatch").path))
        #expect(!fm.fileExists(atPath: config.path + ".default"))
        #expect(fm.fileExists(atPath: config.path))
    }

    static func stagedInstallAgain(_ dest: URL) throws -> CommandResult {
        let r = try runCommand(
            "/usr/bin/make", ["-s", "-C", Paths.root.path, "install", "DESTDIR=\(dest.path)", "CASEWATCH_BIN=\(Paths.casewatch)"],
            environment: Paths.commandEnvironment)
        guard r.status == 0 else { throw IsolatedJournald.Failure("make install failed: \(r.stdout)\n\(r.stderr)") }
        return r
    }

    /// The score of the unit as installed. (`systemd-analyze verify` needs the unit's binaries
    /// and the system's targets at their real paths: it runs in `theUnitUnderSystemd`, after the
    /// real `make install`.)
    @Test func theInstalledUnitScores() throws {
        let dest = try Self.stagedInstall()
        defer { try? FileManager.default.removeItem(at: dest) }
        let unit = dest.appendingPathComponent("usr/local/lib/systemd/system/casewatch.service").path
        let security = try runCommand(
            "/usr/bin/systemd-analyze", ["security", "--offline=yes", "--no-pager", "--threshold=20", unit])
        #expect(security.status == 0, "\(security.stdout)\n\(security.stderr)")
        // The score the README and the unit record: a change to the hardening must update them.
        #expect(security.stdout.contains("Overall exposure level for casewatch.service: 1.4 OK"), "\(security.stdout)")
    }

    /// casewatch.service under a real systemd, from `make install` to `systemctl stop`.
    @Test(.timeLimit(.minutes(3))) func theUnitUnderSystemd() throws {
        let sd = try BootedSystemd()
        defer { sd.stop() }
        func state() throws -> [String: String] {
            try sd.show("casewatch.service", ["ActiveState", "SubState", "MainPID", "NRestarts", "Result"])
        }
        func awaitAlert(_ match: String, _ value: String, timeout: Double = 60) throws -> [String: String] {
            let found = try Self.awaitAlert(in: sd, field: match, value: value, timeout: timeout)
            return try #require(found, "no alert with \(match)=\(value): \(sd.diagnostics("casewatch.service"))")
        }

        // make install, DESTDIR empty: also journalctl --update-catalog and daemon-reload.
        try sd.sh("make -s -C '\(Paths.root.path)' install CASEWATCH_BIN='\(Paths.casewatch)'")
        #expect(try sd.sh("test -s /var/lib/systemd/catalog/database && echo yes") == "yes\n")
        let verify = try sd.run(["systemd-analyze", "verify", "--man=no", "casewatch.service"])
        #expect(verify.status == 0 && verify.stderr.isEmpty, "\(verify.stdout)\n\(verify.stderr)")

        // Active only after READY=1: while systemd waits for it the unit is activating; the
        // blocking start returns once it came.
        try sd.sh("systemctl start --no-block casewatch.service")
        let early = try state()
        #expect(early["ActiveState"] == "activating" || early["ActiveState"] == "active", "\(early)")
        if early["ActiveState"] == "activating" { #expect(["start-pre", "start"].contains(early["SubState"] ?? ""), "\(early)") }
        try sd.sh("systemctl start casewatch.service")
        var s = try state()
        #expect(s["ActiveState"] == "active" && s["SubState"] == "running", "\(s)")
        let times = try sd.show("casewatch.service", ["ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic"])
        #expect(UInt64(times["ActiveEnterTimestampMonotonic"] ?? "0")! > UInt64(times["ExecMainStartTimestampMonotonic"] ?? "0")!)
        let firstPID = s["MainPID"]!

        // A kubelet symptom becomes an alert in the journal; journalctl -x shows its fix.
        try Self.kubelet(sd, Self.crashLoop)
        let alert = try awaitAlert("CASE_ID", "pod-crashloop-backoff")
        #expect(alert["SYSLOG_IDENTIFIER"] == "casewatch")
        #expect(alert["_SYSTEMD_UNIT"] == "casewatch.service")
        let explained = try sd.sh("journalctl -x --no-pager CASE_ID=pod-crashloop-backoff")
        #expect(explained.contains("Documentation: file:///usr/local/share/doc/casewatch/CASES.md#pod-crashloop-backoff"), "\(explained)")
        let fix = try #require(alert["FIX"])
        #expect(explained.contains(String(fix.prefix(30))), "\(explained)")

        // The units filter: a line of kubelet.service (identifier "echo") is read too.
        try sd.sh("""
            printf '[Service]\\nType=oneshot\\nExecStart=/bin/echo back-off 5m0s restarting failed container=gateway pod=bk-repo-gateway-3_blueking(8a1b)\\n' \
                > /etc/systemd/system/kubelet.service
            systemctl daemon-reload
            systemctl start kubelet.service
            """)
        let fromUnit = try awaitAlert("CAPTURE_POD", "bk-repo-gateway-3")
        #expect(fromUnit["CASE_ID"] == "pod-crashloop-backoff")

        // A broken configuration is refused by the reload; the old one keeps running.
        try sd.sh("cp /etc/casewatch/casewatch.yaml /etc/casewatch/good.yaml && echo 'no_such_key: 1' >> /etc/casewatch/casewatch.yaml")
        let badReload = try sd.run(["systemctl", "reload", "casewatch.service"])
        #expect(badReload.status != 0)
        s = try state()
        #expect(s["ActiveState"] == "active" && s["SubState"] == "running" && s["MainPID"] == firstPID, "\(s)")

        // A good reload adds an operator's case, which then fires.
        try sd.sh("mv /etc/casewatch/good.yaml /etc/casewatch/casewatch.yaml")
        try sd.sh("""
            cat > /etc/casewatch/patterns.d/mine.yaml <<'EOF'
            \(operatorCaseYAML(id: "operator-test-case", severity: "warning", symptomID: "hit", regex: "operator marker (?<n>[0-9]+)", example: "operator marker 1"))
            EOF
            """)
        try sd.sh("systemctl reload casewatch.service")
        // systemd 252 returns from the reload once ExecReload sent SIGHUP; the daemon says when the
        // new configuration is in force (a line before that is read with the old one, not lost).
        let reloaded = try Self.awaitEntry(in: sd, ["_SYSTEMD_UNIT": "casewatch.service"], timeout: 60) {
            $0["MESSAGE"]?.hasPrefix("Reloaded") == true
        }
        #expect(reloaded != nil, "\(sd.diagnostics("casewatch.service"))")
        try Self.kubelet(sd, "operator marker 7")
        _ = try awaitAlert("CASE_ID", "operator-test-case")
        #expect(try state()["MainPID"] == firstPID)

        // kill -9 of the main process: restarted (Restart=on-failure), and the line written while
        // it was down is not lost.
        try sd.sh("kill -9 \(firstPID)")
        try Self.kubelet(sd, Self.crashLoop.replacingOccurrences(of: "gateway-0", with: "gateway-1"))
        _ = try awaitAlert("CAPTURE_POD", "bk-repo-gateway-1")
        s = try state()
        #expect(s["ActiveState"] == "active" && s["NRestarts"] == "1" && s["MainPID"] != firstPID, "\(s)")

        // A wedged pipeline: the watchdog ends it (SIGABRT: the Swift runtime logs every thread's
        // backtrace, the wedged one included) and systemd restarts it. RestartSec stays 5 s: the
        // drop-in is gone before the restart, which then reads the wedging line again and alerts.
        try sd.sh("""
            mkdir -p /etc/systemd/system/casewatch.service.d
            printf '[Service]\\nEnvironment=CASEWATCH_FAULT=stall-journald-source\\nWatchdogSec=3s\\nLimitCORE=0\\n' \
                > /etc/systemd/system/casewatch.service.d/test-stall.conf
            systemctl daemon-reload
            systemctl restart casewatch.service
            """)
        let wedged = try state()
        try Self.kubelet(sd, Self.crashLoop.replacingOccurrences(of: "gateway-0", with: "gateway-2"))
        // systemd logs the watchdog's verdict: wait for it in the journal (sd_journal_wait).
        let verdict = try Self.awaitEntry(in: sd, ["UNIT": "casewatch.service", "_PID": "1"], timeout: 30) {
            $0["MESSAGE"]?.contains("Watchdog timeout") == true
        }
        #expect(verdict != nil, "\(sd.diagnostics("casewatch.service"))")
        try sd.sh("rm /etc/systemd/system/casewatch.service.d/test-stall.conf && systemctl daemon-reload")
        try sd.sh("systemctl start casewatch.service")  // waits for the restart's READY=1
        s = try state()
        #expect(s["ActiveState"] == "active" && s["MainPID"] != wedged["MainPID"], "\(s)")
        #expect(Int(s["NRestarts"] ?? "0")! > Int(wedged["NRestarts"] ?? "0")!, "\(s) after \(wedged)")
        _ = try awaitAlert("CAPTURE_POD", "bk-repo-gateway-2")

        // systemctl stop: a clean exit (SIGTERM), well within TimeoutStopSec.
        let before = Date()
        try sd.sh("systemctl stop casewatch.service")
        #expect(Date().timeIntervalSince(before) < 15)
        s = try sd.show("casewatch.service", ["ActiveState", "Result", "ExecMainStatus", "ExecMainCode"])
        #expect(s["ActiveState"] == "inactive" && s["Result"] == "success", "\(s)")
    }

    /// The Kubernetes source under the unit, as an operator sets it up (README "Kubernetes"): the
    /// kubeconfig at /etc/casewatch/kubeconfig (the default when it exists), readable through the
    /// unit's systemd-journal group only, kubectl's caches in the unit's CacheDirectory, no HOME
    /// and no /root/.kube (ProtectHome=yes hides them), the real kubectl against the test's
    /// loopback API: a pod's symptom line becomes an alert in the journal naming the pod.
    @Test(.timeLimit(.minutes(3))) func theKubernetesSourceUnderTheUnit() throws {
        let kubectl = try #require(KubectlBinaries.path("1.33"), "kubectl.1.33 must be installed beside the kubectl on PATH")
        let api = try KubeAPIServer()
        defer { api.stop() }
        let staging = Paths.root.appendingPathComponent(".build/unit-kube-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: staging) }
        try api.writeKubeconfig(to: staging.appendingPathComponent("kubeconfig").path)

        let sd = try BootedSystemd()
        defer { sd.stop() }
        try sd.sh("make -s -C '\(Paths.root.path)' install CASEWATCH_BIN='\(Paths.casewatch)'")
        try sd.sh("""
            install -m 0640 -g systemd-journal '\(staging.path)/kubeconfig' /etc/casewatch/kubeconfig
            cat > /etc/casewatch/casewatch.yaml <<'EOF'
            sources:
              journald: {units: [kubelet.service], identifiers: [kubelet]}
              kubernetes: {kubectl: \(kubectl), namespaces: [blueking]}
            sinks:
              journald: {}
            EOF
            """)
        try sd.sh("systemctl start casewatch.service")
        let pod = "bk-elastic-elasticsearch-data-0"
        api.addPod(namespace: "blueking", name: pod, containers: [.init("elasticsearch")])
        // The case wants the failure on three discovery rounds within 5 minutes.
        api.appendLog(namespace: "blueking", pod: pod, container: "elasticsearch", (1...3).map {
            "[2026-11-20T02:12:4\($0),111][WARN ][o.e.d.SeedHostsResolver  ] [\(pod)] failed to resolve host [bk-elastic-elasticsearch-master.blueking.svc.cluster.local]"
        })
        let alert = try #require(
            try Self.awaitAlert(in: sd, field: "CASE_ID", value: "es-cluster-dns-unresolvable", timeout: 90),
            "no alert: \(sd.diagnostics("casewatch.service"))")
        #expect(alert["_SYSTEMD_UNIT"] == "casewatch.service")
        #expect(alert["K8S_POD"] == pod && alert["K8S_NAMESPACE"] == "blueking" && alert["K8S_CONTAINER"] == "elasticsearch", "\(alert)")
        // kubectl wrote its discovery cache under the unit's cache directory, nowhere else.
        let cache = try sd.sh("find /var/cache/private/casewatch /var/cache/casewatch -path '*kubectl*' -name '*.json' 2>/dev/null | head -1")
        #expect(!cache.isEmpty, "no kubectl cache in the unit's CacheDirectory")
        #expect(try sd.sh("test -e /root/.kube && echo yes || echo no") == "no\n")
        try sd.sh("systemctl stop casewatch.service")
    }

    /// `line` in the booted systemd's journal as kubelet's (`systemd-cat -t kubelet`).
    static func kubelet(_ sd: BootedSystemd, _ line: String) throws {
        let r = try sd.run(["/usr/bin/systemd-cat", "-t", "kubelet"], input: Data((line + "\n").utf8))
        guard r.status == 0 else { throw IsolatedJournald.Failure("systemd-cat failed: \(r.stderr)") }
    }

    /// The first casewatch alert entry with `field` = `value` in the booted systemd's journal.
    static func awaitAlert(in sd: BootedSystemd, field: String, value: String, timeout: Double) throws -> [String: String]? {
        try awaitEntry(in: sd, ["SYSLOG_IDENTIFIER": "casewatch", field: value], timeout: timeout) { $0["ALERT_EVENT_ID"] != nil }
    }

    /// The first entry of the booted systemd's journal with the fields `matches` for which
    /// `accept` holds, waiting on the journal (sd_journal_wait) for at most `timeout` seconds.
    static func awaitEntry(
        in sd: BootedSystemd, _ matches: [String: String], timeout: Double, accept: ([String: String]) -> Bool
    ) throws -> [String: String]? {
        let machineID = try String(contentsOfFile: "/proc/\(sd.pid)/root/etc/machine-id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let reader = try JournalReader(directory: "/proc/\(sd.pid)/root/run/log/journal/\(machineID)")
        for (name, value) in matches { try reader.addMatch(name, value) }
        try reader.seekHead()
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            while try reader.next() {
                var fields: [String: String] = [:]
                for name in [
                    "SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT", "CASE_ID", "FIX", "MESSAGE", "CAPTURE_POD", "MESSAGE_ID", "ALERT_EVENT_ID",
                    "K8S_NAMESPACE", "K8S_POD", "K8S_CONTAINER",
                ] {
                    if let v = try reader.field(name) { fields[name] = v }
                }
                if accept(fields) { return fields }
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return nil }
            _ = try reader.wait(timeout: min(left, 1))
        }
    }
}
