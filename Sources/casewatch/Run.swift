import ArgumentParser
import CaseCatalog
import Daemon
import Foundation
import Logging

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: follow the configured sources and raise alerts until SIGTERM.",
        discussion: """
            Under systemd (Type=notify) it says READY=1, pings the watchdog and reloads on SIGHUP;
            in the foreground it runs the same and, without a configured sink, prints alerts on
            the console. Its own log goes to standard error with <N> priority prefixes.
            """)

    @OptionGroup var options: DaemonOptions

    @Option(help: ArgumentHelp("Seconds before a failing source is tried again (default 5; for tests).", visibility: .hidden))
    var retryDelay: Double = 5

    @Option(help: ArgumentHelp("Log level of casewatch's own messages: debug, info, notice, warning, error.", valueName: "LEVEL"))
    var logLevel: String = "info"

    func run() async throws {
        let underSystemd = Notifier.isActive || ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = PriorityLogHandler(label: label, prefixes: underSystemd || isatty(2) == 0)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "casewatch")
        let env = ProcessInfo.processInfo.environment
        var environment = DaemonApp.Environment(
            configPath: options.config, catalog: options.setup,
            stateDirectory: env["STATE_DIRECTORY"].flatMap { $0.split(separator: ":").first.map(String.init) },
            localeLanguage: Language.fromEnvironment(env))
        environment.retryDelay = retryDelay
        let app: DaemonApp
        do {
            app = try DaemonApp(environment: environment, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("casewatch: \(error)\n".utf8))
            throw ExitCode(2)
        }
        try await app.run()
    }
}
