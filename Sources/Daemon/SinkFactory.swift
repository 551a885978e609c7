import Alerting
import CaseCatalog
import Foundation
import Logging

/// Builds the configured sinks. Without any sink configured, a daemon in the foreground (no
/// NOTIFY_SOCKET) prints alerts on the console, so `casewatch run` alone shows something.
final class SinkFactory: @unchecked Sendable {
    let localeLanguage: Language
    let foreground: Bool
    private var journal: JournaldAlertSink?
    /// The webhook sinks by name: one spool and one sender each for the life of the process
    /// (a reload updates them; a removed one stops, its spool stays for when it comes back).
    private var webhooks: [String: WebhookSink] = [:]
    /// For the webhook sinks (nil: none can be made, as in a check without a daemon).
    var webhookContext: (metrics: DaemonMetrics, logger: Logger, stateDirectory: String?)?

    init(localeLanguage: Language, foreground: Bool) {
        self.localeLanguage = localeLanguage
        self.foreground = foreground
    }

    /// The webhook sinks of `config`, made or updated; senders started, removed ones stopped.
    private func webhookSinks(for config: DaemonConfiguration, language: Language) throws -> [AlertSink] {
        guard !config.sinks.webhooks.isEmpty || !webhooks.isEmpty else { return [] }
        guard let context = webhookContext else { return [] }
        let spool = ((context.stateDirectory ?? config.stateDirectory) as NSString).appendingPathComponent("spool")
        var out: [AlertSink] = []
        var keep: Set<String> = []
        for w in config.sinks.webhooks {
            keep.insert(w.name)
            if let sink = webhooks[w.name] {
                sink.update(w, language: language, redact: config.redact)
                out.append(sink)
                continue
            }
            let sink = try WebhookSink(
                settings: w, language: language, redact: config.redact, spoolDirectory: spool, maxBytes: config.spool.maxBytes,
                metrics: context.metrics, backoff: .fromEnvironment(), logger: context.logger)
            sink.start()
            webhooks[w.name] = sink
            out.append(sink)
        }
        for (name, sink) in webhooks where !keep.contains(name) {
            sink.stop()
            webhooks[name] = nil
        }
        return out
    }

    /// Stops every webhook sender; what is pending stays spooled for the next start.
    func stopWebhooks() {
        for sink in webhooks.values { sink.stop() }
    }

    func sinks(for config: DaemonConfiguration) throws -> [AlertSink] {
        let language = config.language ?? localeLanguage
        var sinks: [AlertSink] = []
        if config.sinks.journald != nil {
            // One journal sink for the process: it remembers the events written before a crash.
            let sink = journal ?? JournaldAlertSink(language: language)
            sink.language = language
            journal = sink
            sinks.append(sink)
        }
        if let console = config.sinks.console {
            sinks.append(ConsoleSink(formatter: AlertFormatter(format: console.format == .json ? .json : .text, language: language)))
        } else if sinks.isEmpty && foreground && config.sinks.webhooks.isEmpty {
            sinks.append(ConsoleSink(formatter: AlertFormatter(format: .text, language: language)))
        }
        return sinks + (try webhookSinks(for: config, language: language))
    }

    /// Reads back the alerts written to the journal after the saved cursor, so the records read
    /// again after a crash do not write them twice.
    /// `since` (seconds since the epoch) reaches back further for sources without a cursor.
    func prepareJournal(after cursor: String?, since: Double? = nil, directory: String?) throws {
        let sink = journal ?? JournaldAlertSink(language: localeLanguage)
        journal = sink
        sink.alreadyWritten = try JournalSink.eventIDsWritten(after: cursor, since: since, directory: directory)
    }
}

/// The journald sink (`JournalSink`) as the daemon uses it: skips the events it already wrote
/// before a crash.
final class JournaldAlertSink: AlertSink {
    let name = "journald"
    var language: Language
    var alreadyWritten: Set<String> = []

    init(language: Language) {
        self.language = language
    }

    func write(_ alert: Alert) throws {
        if alreadyWritten.remove(alert.eventID) != nil { return }
        try JournalSink(language: language).write(alert)
    }
}
