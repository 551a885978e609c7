import Foundation
import TestSupport
import Testing

/// `casewatch scan` and `casewatch cases` run as a user runs them.
@Suite struct ScanCommandTests {
    let example = Paths.root.appendingPathComponent("docs/examples/bkce7-base-install.log").path
    let env = Paths.commandEnvironment

    func casewatch(_ args: [String], input: String? = nil, env extra: [String: String] = [:]) throws -> CommandResult {
        try runCommand(Paths.casewatch, args, input: input.map { Data($0.utf8) }, environment: env.merging(extra) { $1 })
    }

    @Test func bundledExampleRaisesItsCases() throws {
        let r = try casewatch(["scan", "--count", example])
        #expect(r.status == 0, "\(r.stderr)")
        let counts = Dictionary(uniqueKeysWithValues: r.stdout.split(separator: "\n").map { line in
            let parts = line.split(separator: "\t")
            return (String(parts[1]), Int(parts[0])!)
        })
        #expect(counts["es-cluster-dns-unresolvable"] == 1)
        #expect(counts["helm-release-timeout"] == 1)
        #expect(counts["helm-no-deployed-releases"] == 1, "shown under STDERR and again under COMBINED OUTPUT: one alert")
        let every = try casewatch(["scan", "--count", "--no-dedup", example])
        #expect(every.stdout.contains("2\thelm-no-deployed-releases"), "--no-dedup shows every hit")
    }

    @Test func jsonLinesCarryTheDocumentedSchema() throws {
        let r = try casewatch(["scan", "--format", "json", example])
        #expect(r.status == 0)
        let objects = try r.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(!objects.isEmpty)
        for o in objects {
            for key in ["case_id", "severity", "title", "source", "line_number", "line", "captures", "fix"] {
                #expect(o[key] != nil, "missing \(key)")
            }
        }
        let timeout = try #require(objects.first { $0["case_id"] as? String == "helm-release-timeout" })
        #expect((timeout["captures"] as? [String: String])?["release"] == "bk-elastic")
        #expect(timeout["line_number"] as? Int == 54)
        #expect(timeout["superseded_by"] as? [String] == ["es-cluster-dns-unresolvable"] || (timeout["superseded_by"] as? [String])?.isEmpty == true)
    }

    @Test func standardInputIsScannedAndTheLocaleChoosesChinese() throws {
        let r = try casewatch(
            ["scan", "-"], input: "nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)\n",
            env: ["LANG": "zh_CN.UTF-8"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("bkrepo-gateway-ipv6-disabled"))
        #expect(r.stdout.contains("-:1"))
        #expect(r.stdout.contains("处理"), "Chinese labels for a zh locale")
        let en = try casewatch(["scan", "--lang", "en", "-"], input: "nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)\n", env: ["LANG": "zh_CN.UTF-8"])
        #expect(en.stdout.contains("fix"), "--lang overrides the locale")
    }

    @Test func exitStatusFollowsGrep() throws {
        #expect(try casewatch(["scan", "-"], input: "all good\n").status == 1)
        #expect(try casewatch(["scan", "-"], input: "").status == 1)
        let missing = try casewatch(["scan", "/nonexistent/x.log"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("/nonexistent/x.log"))
    }

    @Test func gzipFilesAreRead() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = dir.appendingPathComponent("saved.log")
        try FileManager.default.copyItem(atPath: example, toPath: plain.path)
        _ = try runCommand("/bin/gzip", [plain.path])
        let r = try casewatch(["scan", "--count", plain.path + ".gz"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("helm-release-timeout"))
    }

    /// Writes one case file into a fresh directory; the caller removes it.
    func userCatalog(severity: String = "error", symptomID: String = "s", regex: String, example: String = "oops") throws -> URL {
        let dir = Paths.temporaryDirectory()
        try """
            id: my-case
            title: {en: Mine, zh: 我的}
            severity: \(severity)
            source: {seed: mine, heading: mine}
            symptoms:
              - id: \(symptomID)
                regex: '\(regex)'
            diagnosis: {en: The disk is full., zh: 磁盘满了。}
            fix: {en: Free space., zh: 清理空间。}
            examples: {match: ["\(example)"]}
            """.write(to: dir.appendingPathComponent("mine.yaml"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test func aBrokenUserCatalogNamesFileLineAndField() throws {
        let dir = try userCatalog(severity: "urgent", regex: "oops")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try casewatch(["scan", "--patterns", dir.path, "-"], input: "x\n")
        #expect(r.status == 2)
        #expect(r.stderr.contains("mine.yaml:3: case my-case: severity: 'urgent' is not one of"), "\(r.stderr)")
    }

    @Test func aBadRegexInAUserCatalogNamesTheCase() throws {
        let dir = try userCatalog(symptomID: "bad-group", regex: "oops (")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try casewatch(["scan", "--patterns", dir.path, "-"], input: "x\n")
        #expect(r.status == 2)
        #expect(r.stderr.contains("mine.yaml:7: case my-case: symptoms[0].regex (bad-group): regex does not compile"), "\(r.stderr)")
    }

    @Test func userCasesAddToTheBuiltinCatalog() throws {
        let dir = try userCatalog(severity: "critical", regex: "No space left on device", example: "write /data/x: No space left on device")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try casewatch(["scan", "--count", "--patterns", dir.path, "-"], input: "write /data/x: No space left on device\nError: UPGRADE FAILED: \"bk-paas\" has no deployed releases\n")
        #expect(r.status == 0)
        #expect(r.stdout.contains("my-case") && r.stdout.contains("helm-no-deployed-releases"))
    }

    @Test func casesListAndShow() throws {
        let list = try casewatch(["cases", "list"])
        #expect(list.status == 0)
        #expect(list.stdout.split(separator: "\n").count >= 53)
        let show = try casewatch(["cases", "show", "--lang", "zh", "helm-operation-in-progress"])
        #expect(show.status == 0)
        #expect(show.stdout.contains("$ helm history -n blueking <release>"), "placeholders read <name> before a log fills them")
        #expect(show.stdout.contains("方案二（如果没有任何成功部署过的版本）"))
        #expect(show.stdout.contains("⚠ 危险操作"))
        #expect(show.stdout.contains("处理"))
        let json = try casewatch(["cases", "show", "--format", "json", "helm-operation-in-progress"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["id"] as? String == "helm-operation-in-progress")
        #expect((object["title"] as? [String: String])?["zh"]?.isEmpty == false)
        let steps = try #require((object["fix"] as? [String: Any])?["steps"] as? [[String: Any]])
        #expect(steps.count == 4 && steps[2]["alternatives"] != nil)
        let unknown = try casewatch(["cases", "show", "no-such-case"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no-such-case"))
    }

    @Test func longLinesAreCutAndSaidSo() throws {
        let line = "nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol) " + String(repeating: "z", count: 4 * 1024 * 1024)
        let r = try casewatch(["scan", "--format", "json", "-"], input: line + "\nError: UPGRADE FAILED: \"bk-repo\" has no deployed releases\n")
        let objects = try r.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count == 2)
        #expect(objects.first?["truncated_at"] as? Int == 1024 * 1024)
        #expect(objects.last?["line_number"] as? Int == 2)
    }

    @Test func configurationChoosesTheLanguageAndAddsPatterns() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("casewatch.yaml")
        try "language: zh\npatterns: []\n".write(to: config, atomically: true, encoding: .utf8)
        let line = "nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)\n"
        let zh = try casewatch(["scan", "--config", config.path, "-"], input: line, env: ["LANG": "en_US.UTF-8"])
        #expect(zh.status == 0)
        #expect(zh.stdout.contains("处理"), "the config's language wins over the locale")
        let en = try casewatch(["scan", "--config", config.path, "--lang", "en", "-"], input: line)
        #expect(en.stdout.contains("fix"), "--lang wins over the config")
    }

    @Test func aBadConfigurationNamesFileLineAndKey() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("casewatch.yaml")
        try "language: auto\nlanguages: zh\n".write(to: config, atomically: true, encoding: .utf8)
        let r = try casewatch(["scan", "--config", config.path, "-"], input: "x\n")
        #expect(r.status == 2)
        #expect(r.stderr.contains("casewatch.yaml:2: languages: unknown key"), "\(r.stderr)")
        try "language: klingon\n".write(to: config, atomically: true, encoding: .utf8)
        let bad = try casewatch(["scan", "--config", config.path, "-"], input: "x\n")
        #expect(bad.stderr.contains("casewatch.yaml:1: language: 'klingon' is not one of zh, en, auto"), "\(bad.stderr)")
    }

    @Test func theShippedConfigurationLoads() throws {
        let shipped = Paths.root.appendingPathComponent("Config/casewatch.yaml").path
        let r = try casewatch(["scan", "--config", shipped, "-"], input: "all quiet\n")
        #expect(r.status == 1, "\(r.stderr)")
    }

    @Test func casesTestRunsTheExamples() throws {
        let builtin = try casewatch(["cases", "test"])
        #expect(builtin.status == 0, "\(builtin.stdout)")
        #expect(builtin.stdout.contains("of 54 cases: all hold"), "53 from the knowledge base and casewatch-source-failing")
        // A user's case whose example does not match its own regex.
        let dir = try userCatalog(regex: "No space left on device", example: "disk is fine")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try casewatch(["cases", "test", "--no-builtin", "--patterns", dir.path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("mine.yaml:1: case my-case: match example does not raise the case: disk is fine"), "\(r.stdout)")
        #expect(r.stdout.contains("needs at least 3 match examples"))
    }
}
