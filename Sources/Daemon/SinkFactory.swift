import Alerting
import CaseCatalog
import Foundation

/// Builds the configured sinks. Without any sink configured, a daemon in the foreground (no
/// NOTIFY_SOCKET) prints alerts on the console, so `casewatch run` alone shows something.
final class SinkFactory: @unchecked Sendable {
    let localeLanguage: Language
    let foreground: Bool
    private var journal: JournaldAlertSink?

    init(localeLanguage: Language, foreground: Bool) {
        self.localeLanguage = localeLanguage
        self.foreground = foreground
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
        } else if sinks.isEmpty && foreground {
            sinks.append(ConsoleSink(formatter: AlertFormatter(format: .text, language: language)))
        }
        return sinks
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
