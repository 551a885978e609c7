import CaseCatalog
import CoreMetrics
import Foundation
import Prometheus

/// What the daemon counts, as Prometheus metrics (swift-metrics instruments over a
/// swift-prometheus registry of the daemon's own: no global bootstrap, so tests build as many
/// daemons as they like in one process).
///
/// Every label has a fixed set of values, never anything read from a log: `source` is a
/// `SourceKind` or a source's name in the code, `case` a case id of the loaded catalog, `sink` a
/// sink name of the configuration schema, `outcome` one of a few words, and the build info the
/// versions of casewatch and its libraries. A pod name or a line never becomes a label, so the
/// number of series stays bounded by the catalog.
public final class DaemonMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// The Prometheus text exposition format (version 0.0.4).
    public func exposition() -> [UInt8] { registry.emitToBuffer() }

    // MARK: - What is counted

    /// Records (journal entries, lines) handed to the pipeline, and their bytes.
    public func read(records: Int, bytes: Int, kind: SourceKind) {
        counter("casewatch_records_read_total", [("source", kind.rawValue)]).increment(by: records)
        counter("casewatch_bytes_read_total", [("source", kind.rawValue)]).increment(by: bytes)
    }

    /// A symptom of the case matched a line (before correlation and deduplication).
    public func symptomHit(caseID: String) {
        counter("casewatch_symptom_hits_total", [("case", caseID)]).increment()
    }

    /// A notification (firing, reminder, resolved) of the case was handed to the sinks.
    public func alert(caseID: String) {
        counter("casewatch_alerts_total", [("case", caseID)]).increment()
    }

    public enum SinkOutcome: String, Sendable { case written, failed }

    /// One write of one alert to a sink: `failed` counts each failed try (the write is retried).
    public func sinkWrite(sink: String, outcome: SinkOutcome) {
        counter("casewatch_sink_writes_total", [("sink", sink), ("outcome", outcome.rawValue)]).increment()
    }

    /// PCRE2 failed on a line a symptom's prefilter hit (match limit, depth limit...).
    public func matchError() {
        counter("casewatch_match_errors_total", []).increment()
    }

    /// A source's reading thread started again after it failed.
    public func sourceRestart(source: String) {
        counter("casewatch_source_restarts_total", [("source", source)]).increment()
    }

    /// A source could not read (it retries, and raises casewatch-source-failing).
    public func sourceReadError(source: String) {
        counter("casewatch_source_read_errors_total", [("source", source)]).increment()
    }

    /// Seconds between the time of the last record read and reading it (0: caught up).
    public func lag(source: String, seconds: Double) {
        gauge("casewatch_source_lag_seconds", [("source", source)]).record(max(0, seconds))
    }

    public enum ReloadOutcome: String, Sendable { case success, failure }

    public func reload(_ outcome: ReloadOutcome) {
        counter("casewatch_reloads_total", [("outcome", outcome.rawValue)]).increment()
    }

    /// Always 1; the labels say what runs.
    public func buildInfo(version: String, hyperscan: String, pcre2: String) {
        gauge("casewatch_build_info", [("version", version), ("hyperscan", hyperscan), ("pcre2", pcre2)]).record(1)
    }

    /// The patterns compiled in the database in force.
    public func patterns(_ count: Int) {
        gauge("casewatch_patterns", []).record(count)
    }

    /// Made once up front so that a scrape shows every family at 0 before anything happens.
    public func declare(sources: [String], kinds: [SourceKind], sinks: [String]) {
        for k in kinds { read(records: 0, bytes: 0, kind: k) }
        for s in sources {
            counter("casewatch_source_restarts_total", [("source", s)]).increment(by: 0)
            counter("casewatch_source_read_errors_total", [("source", s)]).increment(by: 0)
        }
        for s in sinks {
            for o in [SinkOutcome.written, .failed] { counter("casewatch_sink_writes_total", [("sink", s), ("outcome", o.rawValue)]).increment(by: 0) }
        }
        counter("casewatch_match_errors_total", []).increment(by: 0)
        for o in [ReloadOutcome.success, .failure] { counter("casewatch_reloads_total", [("outcome", o.rawValue)]).increment(by: 0) }
    }

    // The factory hands back the registry's one instrument per name and label set, so making a
    // handle per use is a dictionary look-up, not a new series.
    func counter(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
    }

    func gauge(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
    }
}
