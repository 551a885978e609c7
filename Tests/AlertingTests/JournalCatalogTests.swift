import Alerting
import CaseCatalog
import Foundation
import TestSupport
import Testing

/// The generated message catalog, installed the way an operator does (`journal-catalog
/// --output`, `journalctl --update-catalog`) into a test root, and read by `journalctl -x` in an
/// isolated journald's namespace over an alert the journald sink wrote.
struct JournalCatalogTests {
    @Test func journalctlExplainsAnAlertWithItsFixInBothLanguages() throws {
        let catalog = try Catalog.load(directories: [Paths.patterns])
        let known = try #require(catalog["pod-crashloop-backoff"])
        let root = Paths.temporaryDirectory("casewatch-catalog-root")
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("usr/lib/systemd/catalog/casewatch.catalog")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)

        // Generate and install.
        let generated = try runCommand(Paths.casewatch, ["journal-catalog", "--output", file.path])
        #expect(generated.status == 0, "\(generated.stderr)")
        let update = try runCommand("/usr/bin/journalctl", ["--root", root.path, "--update-catalog"])
        #expect(update.status == 0 && update.stderr.isEmpty, "\(update.stderr)")
        let listed = try runCommand("/usr/bin/journalctl", ["--root", root.path, "--list-catalog"])
        let id = JournalSink.messageID(caseID: known.id)
        #expect(listed.stdout.contains("\(id) casewatch: \(known.title.en)"))
        #expect(listed.stdout.split(separator: "\n").count == catalog.cases.count)

        // An alert in an isolated journal, and the test's catalog database in its namespace.
        let journald = try IsolatedJournald()
        defer { journald.stop() }
        let database = root.appendingPathComponent("var/lib/systemd/catalog").path
        let mounted = try journald.run(["/bin/sh", "-c", "mkdir -p /var/lib/systemd/catalog && mount --bind \"$0\" /var/lib/systemd/catalog", database])
        #expect(mounted.status == 0, "\(mounted.stderr)")
        let alert = Alert(
            knownCase: known, origin: Origin(kind: .journald, name: "kubelet.service", host: "node-1", unit: "kubelet.service", identifier: "kubelet"),
            evidence: Evidence(symptomID: known.symptoms[0].id, lineNumber: 0, line: "back-off 5m0s restarting failed container=web pod=bk-web-1_blueking"),
            captures: [Capture(name: "pod", value: "bk-web-1"), Capture(name: "namespace", value: "blueking")], time: 1_796_000_000)
        try journald.withinNamespace { try JournalSink(language: .en).write(alert) }
        try journald.sync()

        let en = try journald.run(["/usr/bin/journalctl", "-x", "-t", "casewatch", "--no-pager"], environment: ["LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"])
        #expect(en.status == 0, "\(en.stderr)")
        let explained = en.stdout
        #expect(explained.contains("Subject: \(known.title.en)"), "\(explained)")
        #expect(explained.contains("casewatch recognised this case in unit kubelet.service, host node-1."))
        #expect(explained.contains("back-off 5m0s restarting failed container=web pod=bk-web-1_blueking"))
        // The fix, filled, line by line under the alert.
        for line in JournalSink.fixText(alert, language: .en).split(separator: "\n") {
            #expect(explained.contains(line.trimmingCharacters(in: .whitespaces)), "missing fix line: \(line)")
        }
        #expect(explained.contains("Why: \(alert.fill(known.diagnosis.en).split(separator: "\n")[0])"))
        #expect(!explained.contains("░░ \n░░ \n"), "a field ends in a newline")

        // A Chinese locale picks the zh_CN section (the locale is compiled for the test).
        let locales = root.appendingPathComponent("locale").path
        try FileManager.default.createDirectory(atPath: locales, withIntermediateDirectories: true)
        let compiled = try runCommand("/usr/bin/localedef", ["-i", "zh_CN", "-f", "UTF-8", locales + "/zh_CN.UTF-8"])
        try #require(compiled.status == 0 || FileManager.default.fileExists(atPath: locales + "/zh_CN.UTF-8"), "localedef: \(compiled.stderr)")
        let zh = try journald.run(
            ["/usr/bin/journalctl", "-x", "-t", "casewatch", "--no-pager"],
            environment: ["LOCPATH": locales, "LC_ALL": "zh_CN.UTF-8", "PATH": "/usr/bin:/bin"])
        #expect(zh.stdout.contains("Subject: \(known.title.zh)"), "\(zh.stdout)")
        #expect(zh.stdout.contains("处理："))
    }

    @Test func everyCaseHasAnEnglishAndAChineseSection() throws {
        let catalog = try Catalog.load(directories: [Paths.patterns])
        let text = JournalCatalogDocument.render(catalog)
        let headers = text.split(separator: "\n").filter { $0.hasPrefix("-- ") }
        #expect(headers.count == 2 * catalog.cases.count)
        for c in catalog.cases {
            let id = JournalSink.messageID(caseID: c.id)
            #expect(headers.contains("-- \(id)") && headers.contains("-- \(id) zh_CN"), "\(c.id)")
        }
        // systemd reads a body line starting with # or ; as a comment: none may.
        let body = text.split(separator: "\n", omittingEmptySubsequences: false).drop { $0.hasPrefix("#") || $0.isEmpty }
        #expect(!body.contains { $0.hasPrefix("#") || $0.hasPrefix(";") })
    }
}
