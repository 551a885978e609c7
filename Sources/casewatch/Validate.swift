import Alerting
import ArgumentParser
import CaseCatalog
import Daemon
import Foundation

/// Options of the daemon's commands: the configuration file and where the catalog comes from.
struct DaemonOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The configuration file.", valueName: "FILE"))
    var config: String = DaemonConfiguration.defaultPath

    @Option(help: ArgumentHelp("Where compiled pattern databases are cached (default: $CACHE_DIRECTORY, $XDG_CACHE_HOME/casewatch).", valueName: "DIR"))
    var cacheDir: String?

    var setup: CatalogSetup {
        CatalogSetup(builtinDirectory: CatalogOptions.builtinDirectory, cacheDirectory: CatalogOptions.cacheDirectory(cacheDir))
    }

    /// The configuration, or every error on standard error and exit status 2.
    func load() throws -> DaemonConfiguration {
        do {
            let c = try DaemonConfiguration.load(config)
            for w in c.warnings { FileHandle.standardError.write(Data("casewatch: warning: \(w)\n".utf8)) }
            return c
        } catch {
            FileHandle.standardError.write(Data("casewatch: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a configuration file and every pattern directory it names.",
        discussion: "Prints every error (file, line, key) and exits 2 on any; the systemd unit runs it before a start and a reload.")

    @OptionGroup var options: DaemonOptions

    func run() throws {
        let config = try options.load()
        let setup = options.setup
        for dir in CatalogSetup.missingDirectories(config) {
            FileHandle.standardError.write(Data("casewatch: warning: pattern directory \(dir) does not exist, ignoring\n".utf8))
        }
        do {
            let catalog = try setup.catalog(for: config)
            let compiled = try setup.compile(catalog)
            let symptoms = compiled.patterns.filter { !$0.isStreamValue }.count
            print("\(options.config): OK: \(catalog.cases.count) cases, \(symptoms) symptoms; sources: \([config.sources.journald == nil ? nil : "journald", config.sources.files == nil ? nil : "files", config.sources.kubernetes == nil ? nil : "kubernetes"].compactMap { $0 }.joined(separator: ", ").nonEmpty ?? "none"); sinks: \(config.sinks.names.isEmpty ? "console (foreground only)" : config.sinks.names.joined(separator: ", "))")
        } catch {
            FileHandle.standardError.write(Data("casewatch: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

struct TestConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run a sample log through exactly the configured pipeline and explain each alert, and each case that did not fire.",
        discussion: """
            Overrides, scopes and dedup apply as in the daemon. For each alert: which symptom, which
            captures, the line. For each case one of whose symptoms matches a line of the log but that
            raised no alert: why not (disabled, out of scope, trigger incomplete).
            """)

    @OptionGroup var options: DaemonOptions
    @OptionGroup var languageOption: LanguageOption

    @Option(name: .customLong("origin"), help: ArgumentHelp("Where the log comes from: namespace, pod, container, unit, ... (repeatable).", valueName: "KEY=VALUE"))
    var origins: [String] = []

    @Argument(help: "The sample log (`-` is standard input).")
    var log: String

    func run() throws {
        let config = try options.load()
        let language = languageOption.lang ?? config.language ?? Language.fromEnvironment(ProcessInfo.processInfo.environment)
        var origin = Origin(kind: log == "-" ? .stdin : .file, name: log, file: log == "-" ? nil : log)
        for o in origins {
            let parts = o.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, origin.set(parts[0], parts[1]) else {
                FileHandle.standardError.write(Data("casewatch: --origin '\(o)': expected KEY=VALUE with KEY one of \(Origin.fieldNames.joined(separator: ", "))\n".utf8))
                throw ExitCode(2)
            }
        }
        let result: DryRun
        do {
            result = try DryRun.run(config: config, setup: options.setup, path: log, origin: origin, language: language)
        } catch {
            FileHandle.standardError.write(Data("casewatch: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let zh = language == .zh
        print(zh ? "\(log)：\(result.lines) 行，\(result.alerts.count) 条告警" : "\(log): \(result.lines) lines, \(result.alerts.count) alerts")
        for a in result.alerts {
            print("")
            print("[\(a.knownCase.severity.rawValue)] \(a.caseID)  \(a.knownCase.title[language])")
            print(zh ? "  症状  \(a.evidence.symptomID)，第 \(a.evidence.lineNumber) 行" : "  symptom \(a.evidence.symptomID), line \(a.evidence.lineNumber)")
            print("  \(a.evidence.line)")
            for e in a.earlier { print(zh ? "  先有  \(e.symptomID)，第 \(e.lineNumber) 行" : "  after   \(e.symptomID), line \(e.lineNumber)") }
            if !a.captures.isEmpty { print((zh ? "  提取  " : "  captures ") + a.captures.map { "\($0.name)=\($0.value)" }.joined(separator: " ")) }
            if a.count > 1 { print(zh ? "  去重  共 \(a.count) 次，合并为一条告警（\(a.dedupKey)）" : "  dedup   \(a.count) hits, one alert (\(a.dedupKey))") }
            if !a.supersededBy.isEmpty { print((zh ? "  注意  已有更具体的案例 " : "  note    more specific: ") + a.supersededBy.joined(separator: ", ")) }
        }
        if !result.missed.isEmpty {
            print("")
            print(zh ? "有证据但未告警的案例：" : "Cases with evidence in the log that raised no alert:")
            for m in result.missed {
                let lines = m.lines.prefix(5).map(String.init).joined(separator: ", ") + (m.lines.count > 5 ? ", ..." : "")
                print("  \(m.caseID) (\(zh ? "行" : "lines") \(lines)): \(m.reason)")
            }
        }
        if result.alerts.isEmpty { throw ExitCode(1) }
    }
}

extension String {
    /// nil for the empty string.
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
