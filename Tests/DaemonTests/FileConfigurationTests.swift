import Daemon
import Foundation
import LogSources
import Testing

/// `sources.files` and its settings: read as documented, and wrong values named by file, line
/// and key.
@Suite struct FileConfigurationTests {
    @Test func theFilesSourceIsRead() throws {
        let text = """
            sources:
              files:
                - {path: "/data/bkce/ci/*/logs/*.log", exclude: ["*.debug.log"]}
                - path: /var/log/gse/agent-err.log
                  start: beginning
              files_max_open: 32
              files_partial_wait: 2s
            """
        let c = try DaemonConfiguration.parse(text, path: "t.yaml")
        let files = try #require(c.sources.files)
        #expect(files.entries.map(\.path) == ["/data/bkce/ci/*/logs/*.log", "/var/log/gse/agent-err.log"])
        #expect(files.entries[0].exclude == ["*.debug.log"] && files.entries[0].start == .end)
        #expect(files.entries[1].start == .beginning)
        #expect(files.maxOpen == 32 && files.partialWait == 2)
    }

    @Test(arguments: [
        ("sources:\n  files:\n    - {path: /x.log, start: middle}\n", "bad.yaml:3: sources.files[0].start: expected end or beginning, got 'middle'"),
        ("sources:\n  files:\n    - {path: logs/x.log}\n", "bad.yaml:3: sources.files[0].path: expected an absolute path or glob, got 'logs/x.log'"),
        ("sources:\n  files:\n    - {start: end}\n", "bad.yaml:3: sources.files[0].path: required: the file or glob to follow"),
        ("sources:\n  files:\n    - {path: /x.log, tail: yes}\n", "bad.yaml:3: sources.files[0].tail: unknown key (allowed: path, exclude, start)"),
        ("sources:\n  files: /x.log\n", "bad.yaml:2: sources.files: expected a list of {path, exclude, start}"),
        ("sources:\n  files_max_open: 0\n", "bad.yaml:2: sources.files_max_open: expected a whole number of at least 1, got '0'"),
    ])
    func brokenFileSourcesNameFileLineAndKey(text: String, expected: String) {
        do {
            _ = try DaemonConfiguration.parse(text, path: "bad.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description == expected)
        }
    }
}
