import CaseCatalog
import Daemon
import Foundation
import TestSupport
import Testing

/// The configuration file: every key of the documented schema, and a table of broken files each
/// with the exact message expected (file, line, key).
@Suite struct ConfigurationTests {
    @Test func theShippedDefaultLoads() throws {
        let path = Paths.root.appendingPathComponent("Config/casewatch.yaml").path
        let config = try DaemonConfiguration.load(path)
        #expect(config.sources.journald != nil)
        #expect(config.sinks.journald != nil)
    }

    @Test func everyKeyOfTheSchemaIsRead() throws {
        let text = """
            language: zh
            state_dir: /var/lib/cw
            patterns:
              builtin: false
              dirs: [/etc/casewatch/patterns.d, "${EXTRA}"]
              overrides:
                - {case: cmdb-login-loop, enabled: false}
                - {case: pod-crashloop-backoff, dedup_window: 30m, severity: error, sinks: [journald], scope: {namespace: "bk-*"}}
            shutdown_timeout: 3s
            dedup: {enabled: false, window: 5m, remind: 2h}
            context: {before: 5}
            sources:
              journald: {units: [kubelet.service], identifiers: [kubelet], priority: warning, since: all}
            sinks:
              console: {format: json}
              journald: {}
            """
        let c = try DaemonConfiguration.parse(text, path: "t.yaml", environment: ["EXTRA": "/opt/more"])
        #expect(c.language == .zh)
        #expect(c.stateDirectory == "/var/lib/cw")
        #expect(c.patterns.builtin == false)
        #expect(c.patterns.dirs == ["/etc/casewatch/patterns.d", "/opt/more"])
        #expect(c.patterns.overrides.map(\.caseID) == ["cmdb-login-loop", "pod-crashloop-backoff"])
        #expect(c.patterns.overrides[0].enabled == false)
        #expect(c.patterns.overrides[1].dedupWindow == 1800 && c.patterns.overrides[1].severity == .error)
        #expect(c.patterns.overrides[1].sinks == ["journald"] && c.patterns.overrides[1].scope?.namespace?.pattern == "bk-*")
        #expect(c.shutdownTimeout == 3)
        #expect(!c.dedup.enabled && c.dedup.window == 300 && c.dedup.remind == 7200)
        #expect(c.context.before == 5)
        #expect(c.sources.journald?.units == ["kubelet.service"] && c.sources.journald?.priority == 4 && c.sources.journald?.since == .all)
        #expect(c.sinks.console?.format == .json && c.sinks.journald != nil)
    }

    @Test func theOldListOfPatternDirectoriesStillLoadsWithANote() throws {
        let c = try DaemonConfiguration.parse("patterns: [/a, /b]\n", path: "old.yaml")
        #expect(c.patterns.dirs == ["/a", "/b"])
        #expect(c.warnings == ["old.yaml:1: patterns: a list is the old form; write `patterns: {dirs: [...]}`"])
    }

    @Test(arguments: [
        ("colour: blue\n", "bad.yaml:1: colour: unknown key (allowed: language, state_dir, patterns, shutdown_timeout, dedup, context, sources, sinks, metrics, spool, redact)"),
        ("language: fr\n", "bad.yaml:1: language: 'fr' is not one of zh, en, auto"),
        ("dedup: {window: soon}\n", "bad.yaml:1: dedup.window: expected a duration such as 90s, 10m or 1h, got 'soon'"),
        ("dedup:\n  enabled: maybe\n", "bad.yaml:2: dedup.enabled: expected true or false, got 'maybe'"),
        ("context: {before: -1}\n", "bad.yaml:1: context.before: expected a whole number of at least 0, got '-1'"),
        ("state_dir: relative/dir\n", "bad.yaml:1: state_dir: expected an absolute path, got 'relative/dir'"),
        ("sources:\n  journald: {priority: loud}\n", "bad.yaml:2: sources.journald.priority: expected 0-7 or one of emerg, alert, crit, err, warning, notice, info, debug, got 'loud'"),
        ("sources:\n  journald: {unit: [kubelet.service]}\n", "bad.yaml:2: sources.journald.unit: unknown key (allowed: units, identifiers, priority, since, directory)"),
        ("sources:\n  journald: {units: kubelet.service}\n", "bad.yaml:2: sources.journald.units: expected a list of strings"),
        ("sinks:\n  console: {format: xml}\n", "bad.yaml:2: sinks.console.format: expected text or json, got 'xml'"),
        ("patterns:\n  overrides:\n    - {enabled: false}\n", "bad.yaml:3: patterns.overrides[0].case: required: the id of the case to change"),
        ("patterns:\n  overrides:\n    - {case: x, severity: urgent}\n", "bad.yaml:3: patterns.overrides[0].severity: 'urgent' is not one of critical, error, warning, info"),
        ("patterns:\n  overrides:\n    - {case: x, sinks: [pager]}\n", "bad.yaml:3: patterns.overrides[0].sinks: no sink named 'pager' (configured: )"),
        ("patterns:\n  dirs: [\"${NO_SUCH_VARIABLE_CW}\"]\n", "bad.yaml:2: patterns.dirs[0]: environment variable NO_SUCH_VARIABLE_CW is not set"),
        ("language: en\nlanguage: zh\n", "bad.yaml:2: language: given twice"),
        ("language: [en\n", "bad.yaml:2: YAML: did not find expected ',' or ']'"),
        ("- a list\n", "bad.yaml:1: expected a mapping (keys: language, state_dir, patterns, shutdown_timeout, dedup, context, sources, sinks, metrics, spool, redact)"),
    ])
    func brokenConfigurationsNameFileLineAndKey(text: String, expected: String) {
        do {
            _ = try DaemonConfiguration.parse(text, path: "bad.yaml", environment: [:])
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func everyErrorIsReportedAtOnce() {
        do {
            _ = try DaemonConfiguration.parse("language: fr\ndedup: {window: x}\nfoo: 1\n", path: "bad.yaml")
            Issue.record("accepted")
        } catch {
            #expect(error.errors.map(\.line) == [1, 2, 3])
        }
    }

    @Test func anOverrideOfAnUnknownCaseNamesItsLine() throws {
        let config = try DaemonConfiguration.parse("patterns:\n  overrides:\n    - {case: no-such-case, enabled: false}\n", path: "c.yaml")
        let setup = CatalogSetup(builtinDirectory: Paths.patterns, cacheDirectory: nil)
        #expect(throws: CatalogSetup.Failure.self) { try setup.catalog(for: config) }
        do {
            _ = try setup.catalog(for: config)
        } catch {
            #expect(error.description == "c.yaml:3: patterns.overrides[0].case: no case with id 'no-such-case' in the catalog")
        }
    }

    @Test func overridesChangeTheCatalog() throws {
        let config = try DaemonConfiguration.parse("""
            patterns:
              overrides:
                - {case: cmdb-login-loop, enabled: false}
                - {case: helm-release-timeout, enabled: false}
                - {case: pod-crashloop-backoff, severity: critical, scope: {namespace: blueking}}
            """, path: "c.yaml")
        let catalog = try CatalogSetup(builtinDirectory: Paths.patterns, cacheDirectory: nil).catalog(for: config)
        #expect(catalog["cmdb-login-loop"] == nil && catalog["helm-release-timeout"] == nil)
        #expect(!catalog.cases.contains { $0.supersedes.contains("helm-release-timeout") }, "links to a disabled case are dropped")
        let crash = try #require(catalog["pod-crashloop-backoff"])
        #expect(crash.severity == .critical)
        #expect(crash.symptoms.allSatisfy { $0.scope.namespace?.pattern == "blueking" })
    }
}
