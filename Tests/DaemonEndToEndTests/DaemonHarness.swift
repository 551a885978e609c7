import Foundation
import LogSources
import TestSupport

/// `casewatch run` against a real systemd-journald of the test's own (isolated in a private mount
/// namespace): the daemon runs inside the namespace, reports to a notify socket the test owns,
/// and its alerts are read back from the journal's files by the test, waiting on the journal
/// (sd_journal_wait), never sleeping.
final class DaemonHarness: @unchecked Sendable {
    let journald: IsolatedJournald
    let dir: URL
    let notify: NotifySocket
    var daemon: SpawnedProcess?
    var configPath: String { dir.appendingPathComponent("casewatch.yaml").path }
    var stateDir: String { dir.appendingPathComponent("state").path }
    var patternsDir: String { dir.appendingPathComponent("patterns.d").path }

    init(journald settings: [String: String] = [:]) throws {
        journald = try IsolatedJournald(settings: settings)
        dir = Paths.temporaryDirectory("casewatch-daemon")
        try FileManager.default.createDirectory(atPath: dir.appendingPathComponent("patterns.d").path, withIntermediateDirectories: true)
        notify = NotifySocket(path: dir.appendingPathComponent("notify").path)
        try notify.open()
    }

    deinit {
        if let daemon, daemon.isRunning {
            daemon.signal(SIGKILL)
            daemon.wait()
        }
        notify.close()
        journald.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    /// Writes the configuration; `body` is YAML after `state_dir`.
    func configure(_ body: String) throws {
        try "state_dir: \(stateDir)\n\(body)".write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The environment of a `casewatch run` under test: READY=1 to the test's notify socket,
    /// English messages, and none of systemd's directories (the test's own are given as flags).
    static func environment(notify: String) -> [String: String] {
        var env = Paths.commandEnvironment
        env["NOTIFY_SOCKET"] = notify
        env["CACHE_DIRECTORY"] = nil
        env["STATE_DIRECTORY"] = nil
        env["RUNTIME_DIRECTORY"] = nil
        return env
    }

    /// A daemon whose only case fires on every "numbered line N" of identifier `numbers`, each
    /// hit its own alert (dedup off), sent to `sinks` (YAML under `sinks:`, indented two
    /// spaces): to count lines and alerts one for one. `extra`: more top-level YAML.
    static func everyLineAlerts(sinks: String = "  journald: {}", extra: String = "") throws -> DaemonHarness {
        let h = try DaemonHarness()
        try h.addCase(id: "test-every-line", regex: "numbered line (?<n>[0-9]+)$", example: "numbered line 1")
        try h.configure("""
            patterns: {builtin: false, dirs: [\(h.patternsDir)]}
            dedup: {enabled: false}
            sources:
              journald: {identifiers: [numbers]}
            sinks:
            \(sinks)
            \(extra)
            """)
        return h
    }

    /// A case of the operator's own, in patterns.d.
    func addCase(id: String, regex: String, example: String, file: String = "mine.yaml") throws {
        try operatorCaseYAML(id: id, symptomID: "hit", regex: regex, example: example)
            .write(toFile: (patternsDir as NSString).appendingPathComponent(file), atomically: true, encoding: .utf8)
    }

    /// Starts `casewatch run` inside the namespace and waits for READY=1.
    @discardableResult
    func start(environment extra: [String: String] = [:], awaitReady: Bool = true) throws -> SpawnedProcess {
        var env = Self.environment(notify: notify.path)
        for (k, v) in extra { env[k] = v }
        let d = try journald.spawn(
            [Paths.casewatch, "run", "--config", configPath, "--cache-dir", dir.appendingPathComponent("cache").path, "--retry-delay", "0.2", "--log-level", extra["CASEWATCH_LOG"] ?? "info"],
            environment: env)
        daemon = d
        if awaitReady {
            guard notify.await("READY=1", timeout: 60) else {
                throw IsolatedJournald.Failure("casewatch run did not say READY=1: \(d.stderr)")
            }
        }
        return d
    }

    /// SIGKILL, as a crash.
    func kill() {
        guard let daemon else { return }
        daemon.signal(SIGKILL)
        daemon.wait()
        self.daemon = nil
    }

    /// SIGTERM; the exit status.
    func stop() -> Int32 {
        guard let daemon else { return -1 }
        daemon.signal(SIGTERM)
        let status = daemon.wait()
        self.daemon = nil
        return status
    }

    /// Every casewatch alert entry in the journal (SYSLOG_IDENTIFIER=casewatch with an
    /// ALERT_EVENT_ID), as field dictionaries, once at least `count` of those `matching` exist.
    func awaitAlerts(count: Int, timeout: Double = 60, matching: ([String: String]) -> Bool = { _ in true }) throws -> [[String: String]] {
        let deadline = Date().addingTimeInterval(timeout)
        var seen: [[String: String]] = []
        let reader = try JournalReader(directory: journald.journalDirectory)
        try reader.addMatch("SYSLOG_IDENTIFIER", "casewatch")
        try reader.seekHead()
        while true {
            while try reader.next() {
                guard try reader.field("ALERT_EVENT_ID") != nil else { continue }
                var fields: [String: String] = [:]
                for name in Self.fields { if let v = try reader.field(name) { fields[name] = v } }
                seen.append(fields)
            }
            if seen.filter(matching).count >= count { return seen }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return seen }
            _ = try reader.wait(timeout: min(left, 1))
        }
    }

    static let fields = [
        "MESSAGE", "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER", "CASE_ID", "CASE_SEVERITY", "CASE_TITLE", "CASE_TITLE_ZH",
        "SOURCE_KIND", "SOURCE_IDENTIFIER", "SOURCE_UNIT", "SOURCE_HOST", "MATCHED_LINE", "FIX", "ALERT_ID",
        "ALERT_EVENT_ID", "ALERT_COUNT", "ALERT_STATE", "CAPTURE_SOURCE", "CAPTURE_ERROR", "CAPTURE_POD", "CAPTURE_CONTAINER",
    ]
}
