import Alerting
import ArgumentParser
import CaseCatalog
import CaseMatcher
import Daemon
import Foundation

/// Where the case catalog comes from, shared by every command.
struct CatalogOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The configuration file (default: \(DaemonConfiguration.defaultPath) when it exists).", valueName: "FILE"))
    var config: String?

    @Option(name: .customLong("patterns"), help: ArgumentHelp(
        "A directory of case files to add to the built-in catalog (repeatable).", valueName: "DIR"))
    var patternDirectories: [String] = []

    @Flag(help: "Do not load the built-in catalog; only the --patterns directories.")
    var noBuiltin = false

    @Option(help: ArgumentHelp("Where compiled pattern databases are cached.", valueName: "DIR"))
    var cacheDir: String?

    @Flag(help: "Neither read nor write the compiled-database cache.")
    var noCache = false

    /// The built-in catalog: $CASEWATCH_PATTERNS, the installed share directory, or the
    /// source tree this binary was built from.
    static var builtinDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["CASEWATCH_PATTERNS"], !dir.isEmpty { return dir }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let installed = exe.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("share/casewatch/patterns").path
        if FileManager.default.fileExists(atPath: installed) { return installed }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Patterns").path
    }

    /// The configuration file's settings (the same file as the daemon's: its language, context,
    /// patterns and overrides apply); defaults when there is none.
    func configuration() throws -> DaemonConfiguration {
        var config: DaemonConfiguration
        if let config = self.config {
            return try adjusted(DaemonConfiguration.load(config))
        } else if FileManager.default.fileExists(atPath: DaemonConfiguration.defaultPath) {
            config = try DaemonConfiguration.load(DaemonConfiguration.defaultPath)
        } else {
            config = DaemonConfiguration()
        }
        return adjusted(config)
    }

    /// `--no-builtin` and `--patterns` on top of the file.
    private func adjusted(_ c: DaemonConfiguration) -> DaemonConfiguration {
        var c = c
        if noBuiltin { c.patterns.builtin = false }
        c.patterns.dirs += patternDirectories
        for w in c.warnings { FileHandle.standardError.write(Data("casewatch: warning: \(w)\n".utf8)) }
        return c
    }

    var setup: CatalogSetup {
        CatalogSetup(builtinDirectory: Self.builtinDirectory, cacheDirectory: cacheDirectory)
    }

    var cacheDirectory: String? {
        if noCache { return nil }
        return Self.cacheDirectory(cacheDir)
    }

    /// `--cache-dir`, else systemd's $CACHE_DIRECTORY (the home directory is read-only under
    /// ProtectHome=), else $XDG_CACHE_HOME/casewatch, else ~/.cache/casewatch.
    static func cacheDirectory(_ explicit: String?) -> String? {
        if let explicit { return explicit }
        let env = ProcessInfo.processInfo.environment
        if let dir = env["CACHE_DIRECTORY"], !dir.isEmpty { return dir.split(separator: ":").first.map(String.init) }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/casewatch" }
        if let home = env["HOME"], !home.isEmpty { return home + "/.cache/casewatch" }
        return nil
    }

    func loadCatalog(_ configuration: DaemonConfiguration) throws -> Catalog {
        for dir in CatalogSetup.missingDirectories(configuration) {
            FileHandle.standardError.write(Data("casewatch: warning: pattern directory \(dir) does not exist, ignoring\n".utf8))
        }
        do {
            return try setup.catalog(for: configuration)
        } catch {
            if let errors = error.catalogErrors, error.configurationErrors.isEmpty { throw CatalogFailure(errors: errors) }
            throw error
        }
    }

    func compile(_ catalog: Catalog) throws -> CompiledCatalog {
        do {
            return try CompiledCatalog(catalog: catalog, cacheDirectory: cacheDirectory)
        } catch {
            throw CatalogFailure(errors: error)
        }
    }
}

/// A catalog that does not load: every error on its own line, then exit 2.
struct CatalogFailure: Error, CustomStringConvertible {
    var errors: CatalogErrors
    var description: String {
        "Failed to load the case catalog (\(errors.errors.count) error\(errors.errors.count == 1 ? "" : "s")):\n"
            + errors.description
    }
}

struct LanguageOption: ParsableArguments {
    @Option(help: "Output language: zh or en (default: from LC_ALL / LC_MESSAGES / LANG).")
    var lang: Language?

    /// `--lang`, else the configuration's `language`, else the locale.
    func language(_ configuration: DaemonConfiguration?) -> Language {
        lang ?? configuration?.language ?? Language.fromEnvironment(ProcessInfo.processInfo.environment)
    }
}

extension Language: ExpressibleByArgument {}
extension AlertFormatter.Format: ExpressibleByArgument {}
