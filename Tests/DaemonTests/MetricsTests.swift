import Alerting
import CaseCatalog
@testable import Daemon
import Foundation
import LogSources
import Logging
import TestSupport
import Testing

/// The metrics: every label value comes from a fixed set (source kinds, the catalog's case ids,
/// sink names, outcomes, versions), never from what a log says; `metrics.listen` is checked; the
/// HTTP responder answers as a scraper expects.
@Suite struct MetricsTests {
    static let crashLoop = "E1130 10:00:00.000000    1234 pod_workers.go:965] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\" for \\\"gateway\\\" with CrashLoopBackOff: \\\"back-off 5m0s restarting failed container=gateway pod=zzmarker-pod-4242_blueking(8a1b)\\\"\""

    /// Fails its first write, then takes everything.
    final class FlakySink: AlertSink {
        let name = "journald"
        var calls = 0
        var written: [Alert] = []
        func write(_ alert: Alert) throws {
            calls += 1
            if calls == 1 { throw CocoaError(.fileWriteUnknown) }
            written.append(alert)
        }
    }

    /// One sample line of the text format: name, labels, value.
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    static func samples(_ text: String) -> [Sample] {
        text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let head = line[..<space]
            guard let open = head.firstIndex(of: "{") else { return Sample(name: String(head), labels: [:], value: value) }
            var labels: [String: String] = [:]
            // name="value" pairs; values here hold no escaped quote (checked below).
            let body = head[head.index(after: open)..<head.index(before: head.endIndex)]
            for pair in body.split(separator: "\",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                labels[String(kv[0])] = String(kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
            }
            return Sample(name: String(head[..<open]), labels: labels, value: value)
        }
    }

    @Test func noLabelValueComesFromLogContent() throws {
        let dir = Paths.temporaryDirectory("casewatch-metrics")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try DaemonConfiguration.parse("sinks: {journald: {}}\nmetrics: {listen: \"127.0.0.1:9469\"}\n", path: "m.yaml")
        let setup = CatalogSetup(builtinDirectory: Paths.patterns, cacheDirectory: Paths.testCache)
        let catalog = try setup.catalog(for: config)
        let compiled = try setup.compile(catalog)
        let sink = FlakySink()
        let metrics = DaemonMetrics()
        metrics.buildInfo(version: CasewatchVersion.string, hyperscan: "5.4.0 test", pcre2: "10.42 test")
        metrics.declare(sources: ["journald"], kinds: [.journald, .casewatch], sinks: config.sinks.names)
        let store = try StateStore(directory: dir.path)
        let hub = try Hub(
            generation: .init(compiled: compiled, options: CatalogSetup.pipelineOptions(config), sinks: [sink], routes: [:], configuration: config),
            store: store, state: .init(), metrics: metrics, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))

        // Lines full of things that must never become labels: pod names, hosts, units, free text.
        let batch = RecordBatch()
        let origin = Origin(kind: .journald, name: "zzmarker-unit.service", host: "zzmarker-host", unit: "zzmarker-unit.service", identifier: "kubelet")
        let now = Date().timeIntervalSince1970
        batch.append("zzmarker free text line", origin: origin, time: now)
        batch.append(Self.crashLoop, origin: origin, time: now)
        batch.append("level=error msg=\"zzmarker {label=\\\"x\\\"}\"", origin: origin, time: now)
        try hub.deliver(batch, from: "journald")
        hub.sourceFailing("journald", error: "zzmarker read error")
        metrics.reload(.success)

        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(!text.contains("zzmarker"), "log content in the metrics:\n\(text)")
        let caseIDs = Set(catalog.cases.map(\.id))
        let allowed: [String: Set<String>] = [
            "source": Set(SourceKind.allCases.map(\.rawValue)).union(["journald"]),
            "case": caseIDs,
            "sink": ["console", "journald"],
            "outcome": ["written", "failed", "success", "failure"],
            "version": [CasewatchVersion.string], "hyperscan": ["5.4.0 test"], "pcre2": ["10.42 test"],
        ]
        let samples = Self.samples(text)
        #expect(!samples.isEmpty)
        for s in samples {
            for (name, value) in s.labels {
                #expect(allowed[name]?.contains(value) == true, "\(s.name): label \(name)=\(value) is not from a fixed set")
            }
        }
        func value(_ name: String, _ labels: [String: String]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        #expect(value("casewatch_records_read_total", ["source": "journald"]) == 3)
        #expect((value("casewatch_bytes_read_total", ["source": "journald"]) ?? 0) > Double(Self.crashLoop.utf8.count))
        #expect(value("casewatch_records_read_total", ["source": "casewatch"]) == 1, "the source-failing line")
        #expect((value("casewatch_symptom_hits_total", ["case": "pod-crashloop-backoff"]) ?? 0) >= 1)
        #expect(value("casewatch_alerts_total", ["case": "pod-crashloop-backoff"]) == 1)
        #expect(value("casewatch_alerts_total", ["case": Hub.sourceFailingCase]) == 1)
        #expect(value("casewatch_sink_writes_total", ["sink": "journald", "outcome": "failed"]) == 1)
        #expect(value("casewatch_sink_writes_total", ["sink": "journald", "outcome": "written"]) == Double(sink.written.count))
        #expect(value("casewatch_reloads_total", ["outcome": "success"]) == 1)
        #expect(value("casewatch_reloads_total", ["outcome": "failure"]) == 0)
        #expect(value("casewatch_match_errors_total", [:]) == 0)
        #expect(value("casewatch_build_info", ["version": CasewatchVersion.string, "hyperscan": "5.4.0 test", "pcre2": "10.42 test"]) == 1)
    }

    @Test(arguments: [
        ("127.0.0.1:9469", "127.0.0.1", 9469),
        ("0.0.0.0:1", "0.0.0.0", 1),
        ("[::1]:9469", "::1", 9469),
        ("[fe80::1]:65535", "fe80::1", 65535),
    ])
    func listenAddressesThatAreAccepted(listen: String, host: String, port: Int) throws {
        let c = try DaemonConfiguration.parse("metrics: {listen: \"\(listen)\"}\n", path: "m.yaml")
        #expect(c.metrics == DaemonConfiguration.Metrics(host: host, port: port))
        #expect(c.metrics?.listen == listen)
    }

    @Test(arguments: [
        ("metrics: {listen: localhost:9469}\n", "m.yaml:1: metrics.listen: expected an IP address and a port 1-65535 such as 127.0.0.1:9469 or [::1]:9469, got 'localhost:9469'"),
        ("metrics: {listen: \"127.0.0.1\"}\n", "m.yaml:1: metrics.listen: expected an IP address and a port 1-65535 such as 127.0.0.1:9469 or [::1]:9469, got '127.0.0.1'"),
        ("metrics: {listen: \"127.0.0.1:0\"}\n", "m.yaml:1: metrics.listen: expected an IP address and a port 1-65535 such as 127.0.0.1:9469 or [::1]:9469, got '127.0.0.1:0'"),
        ("metrics: {listen: \"127.0.0.1:70000\"}\n", "m.yaml:1: metrics.listen: expected an IP address and a port 1-65535 such as 127.0.0.1:9469 or [::1]:9469, got '127.0.0.1:70000'"),
        ("metrics: {listen: \"::1:9469\"}\n", "m.yaml:1: metrics.listen: expected an IP address and a port 1-65535 such as 127.0.0.1:9469 or [::1]:9469, got '::1:9469'"),
        ("metrics: {listen: \"[127.0.0.1]:9469\"}\n", "m.yaml:1: metrics.listen: expected an IP address and a port 1-65535 such as 127.0.0.1:9469 or [::1]:9469, got '[127.0.0.1]:9469'"),
        ("metrics: {listen: \"127.0.0.1:9469\", port: 9469}\n", "m.yaml:1: metrics.port: unknown key (allowed: listen)"),
        ("metrics: {}\n", "m.yaml:1: metrics.listen: required: host:port to serve the metrics on, such as 127.0.0.1:9469"),
    ])
    func listenAddressesThatAreRefused(text: String, expected: String) {
        do {
            _ = try DaemonConfiguration.parse(text, path: "m.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func metricsAreOffWithoutTheKey() throws {
        #expect(try DaemonConfiguration.parse("language: en\n", path: "m.yaml").metrics == nil)
        let shipped = Paths.root.appendingPathComponent("Config/casewatch.yaml").path
        #expect(try DaemonConfiguration.load(shipped).metrics == nil, "the default file leaves metrics off")
    }

    @Test(arguments: [
        ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK", true),
        ("GET /metrics?x=1 HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK", true),
        ("HEAD /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK", false),
        ("GET /other HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found", false),
        ("POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed", false),
        ("garbage\r\n\r\n", "HTTP/1.1 400 Bad Request", false),
    ])
    func theResponderAnswers(request: String, status: String, hasMetrics: Bool) {
        let metrics = DaemonMetrics()
        metrics.matchError()
        let response = String(decoding: MetricsService.response(to: Array(request.utf8), metrics: metrics), as: UTF8.self)
        #expect(response.hasPrefix(status + "\r\n"))
        #expect(response.contains("Connection: close\r\n"))
        #expect(response.contains("casewatch_match_errors_total 1") == hasMetrics)
    }
}
