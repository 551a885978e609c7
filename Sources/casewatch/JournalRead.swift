import Alerting
import ArgumentParser
import CaseCatalog
import Foundation
import LogSources

/// A development command, not shown in the help: reads a journal with the daemon's journald
/// source (optionally through the whole pipeline) and says how fast. scripts/bench/journal.sh
/// runs it on a private journal of a million entries.
struct JournalRead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal-read",
        abstract: "Read a journal with the journald source and print how many entries per second.",
        shouldDisplay: false)

    @OptionGroup var catalog: CatalogOptions

    @Option(help: ArgumentHelp("Journal files of this directory (default: the local system journal).", valueName: "DIR"))
    var directory: String?

    @Option(name: .customLong("unit"), help: "A _SYSTEMD_UNIT to read (repeatable).")
    var units: [String] = []

    @Option(name: .customLong("identifier"), help: "A SYSLOG_IDENTIFIER to read (repeatable).")
    var identifiers: [String] = []

    @Flag(help: "Start at the oldest entry (default: entries written from now on).")
    var head = false

    @Option(help: "Stop after this many records.")
    var count: Int?

    @Flag(help: "Stop once every entry available has been read.")
    var untilCaughtUp = false

    @Option(help: "Entries per batch.")
    var batch = 1000

    @Flag(help: "Run every batch through the pipeline (matcher, correlator, alert book) with the catalog.")
    var pipeline = false

    @Flag(help: "Records `casewatch-latency <microseconds since the epoch>` are timed: print the delay from that time to delivery.")
    var latency = false

    func run() throws {
        var pipe: Pipeline?
        if pipeline {
            let (configuration, cat) = try loadOrExit(catalog)
            pipe = try Pipeline(compiled: try compileOrExit(catalog, cat), options: .init(contextBefore: configuration.context.before))
        }
        let source = JournalSource(options: JournalSourceOptions(
            units: units, identifiers: identifiers, directory: directory, batchLimit: batch))
        var records = 0, bytes = 0, alerts = 0
        var delays: [Double] = []
        let started = ContinuousClock.now
        try source.run(start: head ? .head : .now, deliver: { batch in
            records += batch.segments.count
            bytes += batch.count
            if latency {
                let now = Date().timeIntervalSince1970
                for segment in batch.segments {
                    let text = String(decoding: UnsafeRawBufferPointer(rebasing: batch.bytes[segment.range]), as: UTF8.self)
                    if text.hasPrefix("casewatch-latency "), let usec = Double(text.dropFirst(18).prefix { $0.isNumber }) {
                        delays.append(now - usec / 1_000_000)
                    }
                }
            }
            try pipe?.process(batch) { _ in alerts += 1 }
            if let count, records >= count { source.stop() }
        }, report: { event in
            if case .caughtUp = event {
                if untilCaughtUp { source.stop() }
                return
            }
            FileHandle.standardError.write(Data("casewatch: journal: \(event)\n".utf8))
        })
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Int((Double(records) / seconds).rounded())
        print("records=\(records) bytes=\(bytes) seconds=\(String(format: "%.3f", seconds)) records/s=\(rate)" + (pipeline ? " alerts=\(alerts)" : ""))
        if latency, !delays.isEmpty {
            delays.sort()
            func ms(_ q: Double) -> String { String(format: "%.1f", delays[min(delays.count - 1, Int(q * Double(delays.count)))] * 1000) }
            print("latency samples=\(delays.count) p50=\(ms(0.5))ms p90=\(ms(0.9))ms p99=\(ms(0.99))ms max=\(ms(1))ms")
        }
    }
}
