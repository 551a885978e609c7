import Alerting
import CaseCatalog
import CaseMatcher
import Foundation

/// The catalog a configuration asks for: the built-in cases and the operator's directories,
/// with the overrides applied (a disabled case is not even compiled), compiled into one database.
public struct CatalogSetup: Sendable {
    /// Where the built-in catalog is installed.
    public var builtinDirectory: String
    /// Where parsed catalogs and compiled databases are cached (nil: no cache).
    public var cacheDirectory: String?

    public init(builtinDirectory: String, cacheDirectory: String?) {
        self.builtinDirectory = builtinDirectory
        self.cacheDirectory = cacheDirectory
    }

    /// Something wrong with the catalog or with the overrides that refer to it.
    public struct Failure: Error, CustomStringConvertible {
        public var catalogErrors: CatalogErrors?
        public var configurationErrors: [ConfigurationError]
        public var description: String {
            var lines = configurationErrors.map(\.description)
            if let catalogErrors { lines.append(catalogErrors.description) }
            return lines.joined(separator: "\n")
        }
    }

    /// The operator's pattern directories that do not exist: skipped with a warning (a fresh
    /// install has an empty /etc/casewatch/patterns.d, or none at all).
    public static func missingDirectories(_ config: DaemonConfiguration) -> [String] {
        config.patterns.dirs.filter { !FileManager.default.fileExists(atPath: $0) }
    }

    /// The catalog with the overrides applied.
    public func catalog(for config: DaemonConfiguration) throws(Failure) -> Catalog {
        let missing = Self.missingDirectories(config)
        let dirs = (config.patterns.builtin ? [builtinDirectory] : []) + config.patterns.dirs.filter { !missing.contains($0) }
        let loaded: Catalog
        do {
            loaded = try Catalog.load(directories: dirs, cache: cacheDirectory.map(CatalogCache.init))
        } catch {
            throw Failure(catalogErrors: error, configurationErrors: [])
        }
        var errors: [ConfigurationError] = []
        var cases = loaded.cases
        for (i, o) in config.patterns.overrides.enumerated() {
            guard let index = cases.firstIndex(where: { $0.id == o.caseID }) else {
                errors.append(ConfigurationError(
                    path: config.path ?? "<config>", line: o.line, key: "patterns.overrides[\(i)].case",
                    message: "no case with id '\(o.caseID)' in the catalog"))
                continue
            }
            if let s = o.severity { cases[index].severity = s }
            if let scope = o.scope {
                for j in cases[index].symptoms.indices { cases[index].symptoms[j].scope = scope }
            }
        }
        guard errors.isEmpty else { throw Failure(catalogErrors: nil, configurationErrors: errors) }
        let disabled = Set(config.patterns.overrides.filter { $0.enabled == false }.map(\.caseID))
        cases.removeAll { disabled.contains($0.id) }
        for i in cases.indices { cases[i].supersedes.removeAll { disabled.contains($0) } }
        do {
            return try Catalog(cases: cases)
        } catch {
            throw Failure(catalogErrors: error, configurationErrors: [])
        }
    }

    public func compile(_ catalog: Catalog) throws(Failure) -> CompiledCatalog {
        do {
            return try CompiledCatalog(catalog: catalog, cacheDirectory: cacheDirectory)
        } catch {
            throw Failure(catalogErrors: error, configurationErrors: [])
        }
    }

    /// The pipeline options a configuration asks for.
    public static func pipelineOptions(_ config: DaemonConfiguration) -> Pipeline.Options {
        var windows: [String: Double] = [:]
        for o in config.patterns.overrides { if let w = o.dedupWindow { windows[o.caseID] = w } }
        return Pipeline.Options(
            book: .init(dedup: config.dedup.enabled, window: config.dedup.window, remind: config.dedup.remind, caseWindows: windows),
            contextBefore: config.context.before)
    }
}
