import Foundation
import LogSources
import TestSupport
import Testing

/// `casewatch run` with journald in and out, against a real systemd-journald the test starts in a
/// private mount namespace (needs root: unshare, nsenter).
@Suite struct RunJournaldTests {
    static let crashLoop = "E1130 10:00:00.000000    1234 pod_workers.go:965] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"gateway\\\" with CrashLoopBackOff: \\\"back-off 5m0s restarting failed container=gateway pod=bk-repo-gateway-0_blueking(8a1b)\\\"\""

    @Test func aSymptomFromKubeletBecomesAStructuredAlert() throws {
        let h = try DaemonHarness()
        try h.configure("sources:\n  journald: {}\nsinks:\n  journald: {}\n")
        try h.start()
        try h.journald.log(["kubelet started", Self.crashLoop], identifier: "kubelet")
        let alerts = try h.awaitAlerts(count: 1) { $0["CASE_ID"] == "pod-crashloop-backoff" }
        let a = try #require(alerts.first { $0["CASE_ID"] == "pod-crashloop-backoff" })
        #expect(a["SYSLOG_IDENTIFIER"] == "casewatch")
        #expect(a["PRIORITY"] == "3", "error")
        #expect(a["CASE_SEVERITY"] == "error")
        #expect(a["MESSAGE_ID"]?.count == 32)
        #expect(a["CASE_TITLE"]?.contains("CrashLoopBackOff") == true && a["CASE_TITLE_ZH"]?.contains("CrashLoopBackOff") == true)
        #expect(a["SOURCE_KIND"] == "journald" && a["SOURCE_IDENTIFIER"] == "kubelet")
        #expect(a["MATCHED_LINE"] == Self.crashLoop)
        #expect(a["CAPTURE_POD"] == "bk-repo-gateway-0" && a["CAPTURE_CONTAINER"] == "gateway")
        #expect(a["ALERT_STATE"] == "firing" && a["ALERT_COUNT"] == "1")
        #expect(a["ALERT_EVENT_ID"] == "\(a["ALERT_ID"] ?? "")-firing-1")
        #expect(a["FIX"]?.isEmpty == false && a["MESSAGE"]?.contains("pod-crashloop-backoff") == true)
        // The same through journalctl, as an operator looks: `journalctl -o json CASE_ID=...`.
        let json = try h.journald.journalctl(["-o", "json", "CASE_ID=pod-crashloop-backoff"])
        #expect(json.contains("\"ALERT_EVENT_ID\""))
        #expect(h.stop() == 0, "SIGTERM: a clean exit")
    }

    /// Nothing lost, nothing twice: 10,000 numbered lines, an operator case that fires on each,
    /// dedup off; the daemon is killed with SIGKILL three times while it reads and started again.
    @Test func sigkillAndRestartLoseNoLineAndAlertNoneTwice() throws {
        let h = try DaemonHarness.everyLineAlerts()
        try h.start()
        let total = 10_000
        let writer = Thread {
            for chunk in stride(from: 1, through: total, by: 500) {
                try? h.journald.log((chunk..<min(chunk + 500, total + 1)).map { "numbered line \($0)" }, identifier: "numbers")
            }
        }
        writer.start()
        // Kill at points chosen by what is in the journal: at the first alert (before the first
        // throttled save of a position: regression, a restart then began at "now" again and
        // skipped what came between), after 2,000 alerts, then after 6,000.
        for killAt in [1, 2_000, 6_000] {
            _ = try h.awaitAlerts(count: killAt, timeout: 120) { $0["CASE_ID"] == "test-every-line" }
            h.kill()
            try h.start()
        }
        let alerts = try h.awaitAlerts(count: total, timeout: 180) { $0["CASE_ID"] == "test-every-line" }
            .filter { $0["CASE_ID"] == "test-every-line" }
        var seen: [Int: Int] = [:]
        for a in alerts {
            let n = Int(a["MATCHED_LINE"]?.split(separator: " ").last ?? "") ?? -1
            seen[n, default: 0] += 1
        }
        let missing = (1...total).filter { seen[$0] == nil }
        let twice = seen.filter { $0.value > 1 }.map(\.key).sorted()
        #expect(missing.isEmpty, "lost: \(missing.prefix(20)) (\(missing.count)); daemon: \(h.daemon?.stderr.suffix(3000) ?? "")")
        #expect(twice.isEmpty, "alerted twice: \(twice.prefix(20)) (\(twice.count))")
        #expect(alerts.count == total)
        #expect(Set(alerts.compactMap { $0["ALERT_EVENT_ID"] }).count == total)
        #expect(h.stop() == 0)
    }

    @Test func rotationVacuumAndAJournaldRestartLoseNothing() throws {
        let h = try DaemonHarness.everyLineAlerts()
        try h.start()
        var next = 1
        func write(_ n: Int) throws {
            try h.journald.log((next..<next + n).map { "numbered line \($0)" }, identifier: "numbers")
            next += n
        }
        try write(300)
        _ = try h.awaitAlerts(count: 300) { $0["CASE_ID"] == "test-every-line" }
        try h.journald.journalctl(["--rotate"])
        try write(300)
        _ = try h.awaitAlerts(count: 600) { $0["CASE_ID"] == "test-every-line" }
        try h.journald.journalctl(["--rotate"])
        try h.journald.journalctl(["--vacuum-files=2"])
        try write(300)
        _ = try h.awaitAlerts(count: 600) { $0["CASE_ID"] == "test-every-line" && Int($0["MATCHED_LINE"]?.split(separator: " ").last ?? "") ?? 0 > 600 }
        try h.journald.restart()
        try write(300)
        // Alerts written before the vacuum may be gone with their files: count what the journal
        // holds of the last lines, which no vacuum touched.
        let alerts = try h.awaitAlerts(count: 600) { $0["CASE_ID"] == "test-every-line" && Int($0["MATCHED_LINE"]?.split(separator: " ").last ?? "") ?? 0 > 600 }
        let late = alerts.compactMap { Int($0["MATCHED_LINE"]?.split(separator: " ").last ?? "") }.filter { $0 > 600 }
        #expect(late.sorted() == Array(601...1200), "after rotation, vacuum and a journald restart: every line once")
        #expect(h.stop() == 0)
    }

    @Test func aReloadKeepsTheOldConfigurationWhenTheNewOneIsBroken() throws {
        let h = try DaemonHarness()
        try h.addCase(id: "test-first", regex: "first marker (?<n>[0-9]+)", example: "first marker 1")
        let good = """
            patterns: {builtin: false, dirs: [\(h.patternsDir)]}
            sources:
              journald: {identifiers: [reload]}
            sinks:
              journald: {}
            """
        try h.configure(good)
        let d = try h.start()
        // A broken configuration: the daemon says why and keeps running the old one.
        try h.configure(good + "\ncolour: blue\n")
        d.signal(SIGHUP)
        #expect(h.notify.await("READY=1", timeout: 30), "RELOADING=1, then READY=1 again")
        try h.journald.log(["first marker 1"], identifier: "reload")
        _ = try h.awaitAlerts(count: 1) { $0["CASE_ID"] == "test-first" }
        #expect(d.stderr.contains("Failed to reload, keeping the running configuration"), "\(d.stderr)")
        #expect(d.stderr.contains("colour: unknown key"))
        // A good one adds an operator case, which then fires.
        try h.addCase(id: "test-second", regex: "second marker (?<n>[0-9]+)", example: "second marker 1", file: "second.yaml")
        try h.configure(good)
        d.signal(SIGHUP)
        #expect(h.notify.await("READY=1", timeout: 30))
        try h.journald.log(["second marker 1"], identifier: "reload")
        let alerts = try h.awaitAlerts(count: 1) { $0["CASE_ID"] == "test-second" }
        #expect(alerts.contains { $0["CASE_ID"] == "test-second" })
        #expect(h.stop() == 0)
    }

    @Test func aSourceThatCannotReadRaisesItsOwnAlertAndSaysSo() throws {
        let h = try DaemonHarness()
        try h.configure("""
            sources:
              journald: {directory: /nonexistent/journal}
            sinks:
              journald: {}
            """)
        let d = try h.start()
        let alerts = try h.awaitAlerts(count: 1) { $0["CASE_ID"] == "casewatch-source-failing" }
        let a = try #require(alerts.first { $0["CASE_ID"] == "casewatch-source-failing" })
        #expect(a["CAPTURE_SOURCE"] == "journald")
        #expect(a["CAPTURE_ERROR"]?.isEmpty == false)
        #expect(d.stderr.contains("Failed to read the journal"))
        #expect(h.stop() == 0)
    }

    /// A journal thread that stops making progress stops the WATCHDOG=1 pings (a test-only fault
    /// switch wedges it once it has entries to hand over).
    @Test func aWedgedSourceStopsTheWatchdogPings() throws {
        let h = try DaemonHarness()
        try h.configure("sources:\n  journald: {identifiers: [wedge]}\nsinks:\n  journald: {}\n")
        try h.start(environment: ["WATCHDOG_USEC": "400000", "CASEWATCH_FAULT": "stall-journald-source"])
        #expect(h.notify.await("WATCHDOG=1", timeout: 10), "pings while healthy (idle is alive)")
        try h.journald.log(["anything"], identifier: "wedge")
        // Drain what was sent before the wedge, then listen for a while: no ping may come.
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline { _ = h.notify.receive(timeout: 0.1) }
        var pings = 0
        let quiet = Date().addingTimeInterval(2)
        while case let left = quiet.timeIntervalSinceNow, left > 0 {
            if let m = h.notify.receive(timeout: left), m.contains("WATCHDOG=1") { pings += 1 }
        }
        #expect(pings == 0, "the watchdog must notice a wedged journal thread")
        h.kill()
    }

    /// A quiet window resolves the alert on the wall clock, with no other record to move time:
    /// the resolve timer wakes when the alert opens and sleeps until it is due.
    @Test func anAlertResolvesWhenItsWindowPassesQuiet() throws {
        let h = try DaemonHarness()
        try h.configure("dedup: {window: 1s}\nsources:\n  journald: {identifiers: [kubelet]}\nsinks:\n  journald: {}\n")
        try h.start()
        try h.journald.log([Self.crashLoop, Self.crashLoop], identifier: "kubelet")
        let alerts = try h.awaitAlerts(count: 1, timeout: 30) { $0["CASE_ID"] == "pod-crashloop-backoff" && $0["ALERT_STATE"] == "resolved" }
        let states = alerts.filter { $0["CASE_ID"] == "pod-crashloop-backoff" }.map { "\($0["ALERT_STATE"] ?? "") \($0["ALERT_COUNT"] ?? "")" }
        #expect(states == ["firing 1", "resolved 2"])
        let ids = Set(alerts.filter { $0["CASE_ID"] == "pod-crashloop-backoff" }.compactMap { $0["ALERT_ID"] })
        #expect(ids.count == 1, "the resolve carries the incident's alert id")
        #expect(h.stop() == 0)
    }

    @Test func aBadConfigurationExitsTwoNamingFileLineAndKey() throws {
        let h = try DaemonHarness()
        try h.configure("sources:\n  journald: {priority: loud}\n")
        let d = try h.start(awaitReady: false)
        #expect(d.wait() == 2)
        #expect(d.stderr.contains("casewatch.yaml:3: sources.journald.priority: expected 0-7 or one of"), "\(d.stderr)")
    }
}

extension RunJournaldTests {
    /// Regression: a daemon whose journal thread was wedged ignored SIGTERM until systemd's
    /// SIGKILL; shutdown_timeout now bounds the stop whatever a thread is doing.
    @Test func sigtermEndsAWedgedDaemonWithinTheShutdownTimeout() throws {
        let h = try DaemonHarness()
        try h.configure("shutdown_timeout: 1s\nsources:\n  journald: {identifiers: [wedge]}\nsinks:\n  journald: {}\n")
        let d = try h.start(environment: ["CASEWATCH_FAULT": "stall-journald-source"])
        try h.journald.log(["anything"], identifier: "wedge")
        // The wedge is reached once the line is handed over: the daemon says so on stderr.
        let deadline = Date().addingTimeInterval(30)
        while !d.stderr.contains("the journal thread stops here") && Date() < deadline {
            _ = h.notify.receive(timeout: 0.2)
        }
        #expect(d.stderr.contains("the journal thread stops here"))
        let stopped = Date()
        #expect(h.stop() == 1, "exits on its own, status 1")
        #expect(Date().timeIntervalSince(stopped) < 15, "bounded by shutdown_timeout (1 s), not by an outside SIGKILL")
        #expect(d.stderr.contains("Shutdown took longer than shutdown_timeout, exiting"))
    }
}
