import Foundation
import TestSupport
import Testing

/// `casewatch scan` through the record pipeline: origins from `kubectl logs --prefix` and
/// `--origin`, scopes, dedup, context lines, placeholders, and errors that are never "no match".
@Suite struct ScanPipelineTests {
    let env = Paths.commandEnvironment

    func casewatch(_ args: [String], input: String? = nil) throws -> CommandResult {
        try runCommand(Paths.casewatch, args, input: input.map { Data($0.utf8) }, environment: env)
    }

    @Test func prefixedLinesCarryTheirPodAndScopesApply() throws {
        let dir = try writeUserCatalog(regex: "boom [0-9]+", symptomExtra: "scope: {pod: \"bk-repo-*\"}", example: "boom 1")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = """
            [pod/bk-repo-gateway-0/gateway] 2026-11-30T01:02:03.123456789Z boom 1
            [pod/redis-0/redis] boom 2
            boom 3

            """
        let r = try casewatch(["scan", "--format", "json", "--no-builtin", "--patterns", dir.path, "--origin", "namespace=blueking", "-"], input: input)
        #expect(r.status == 0, "\(r.stderr)")
        let objects = try jsonObjects(r.stdout)
        #expect(objects.map { $0["line"] as? String } == ["boom 1", "boom 3"], "redis-0 is out of scope; a line with no pod passes")
        let first = try #require(objects.first)
        let origin = try #require(first["origin"] as? [String: String])
        #expect(origin == ["kind": "kubectl", "namespace": "blueking", "pod": "bk-repo-gateway-0", "container": "gateway"])
        #expect(first["time"] as? String == "2026-11-30T01:02:03.123Z", "kubectl's --timestamps is the record's time")
        #expect(first["line_number"] as? Int == 1)
        #expect(first["schema_version"] as? Int == 1)
    }

    @Test func aStormIsOneAlertWithItsFinalCount() throws {
        let dir = try writeUserCatalog(regex: "boom", example: "boom")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = String(repeating: "[pod/a-0/c] boom\n", count: 5) + "[pod/b-0/c] boom\n"
        let r = try casewatch(["scan", "--format", "json", "--no-builtin", "--patterns", dir.path, "-"], input: input)
        let objects = try jsonObjects(r.stdout)
        // a-0: first hit, then its final count at the end of the input; b-0: one hit.
        #expect(objects.map { "\($0["pod"] ?? "")/\($0["count"] ?? "")/\($0["state"] ?? "")" } == ["a-0/1/firing", "b-0/1/firing", "a-0/5/firing"])
        #expect(objects[0]["alert_id"] as? String == objects[2]["alert_id"] as? String)
        #expect((objects[0]["event_id"] as? String)?.hasSuffix("-firing-1") == true)
        #expect((objects[2]["event_id"] as? String)?.hasSuffix("-firing-2") == true)
        #expect(!objects.contains { $0["state"] as? String == "resolved" }, "the input ended, not the incident")
        let text = try casewatch(["scan", "--no-builtin", "--patterns", dir.path, "-"], input: input)
        #expect(text.stdout.contains("== Alerts that repeated\n[error] my-case  seen 5 times: pod a-0, container c"), "\(text.stdout)")
        let every = try casewatch(["scan", "--count", "--no-dedup", "--no-builtin", "--patterns", dir.path, "-"], input: input)
        #expect(every.stdout == "6\tmy-case\n")
    }

    @Test func contextLinesComeFromTheSameStream() throws {
        let dir = try writeUserCatalog(regex: "boom", example: "boom")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = """
            [pod/a-0/c] a1
            [pod/b-0/c] b1
            [pod/a-0/c] a2
            [pod/a-0/c] a3
            [pod/b-0/c] b2
            [pod/a-0/c] a4
            [pod/a-0/c] boom

            """
        let r = try casewatch(["scan", "--format", "json", "--no-builtin", "--patterns", dir.path, "-"], input: input)
        let o = try #require(try jsonObjects(r.stdout).first)
        #expect(o["context"] as? [String] == ["a2", "a3", "a4"])
        let none = try casewatch(["scan", "--format", "json", "--context", "0", "--no-builtin", "--patterns", dir.path, "-"], input: input)
        #expect(try jsonObjects(none.stdout).first?["context"] as? [String] == [])
    }

    @Test func placeholdersAreFilledQuotedOrNamedNeverTemplates() throws {
        let dir = try writeUserCatalog(
            regex: "failed release (?<release>\\S+)", fixCommands: ["helm rollback -n {namespace} {release} {revision}", "echo ${HOME}"],
            example: "failed release x")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try casewatch(["scan", "--format", "json", "--no-builtin", "--patterns", dir.path, "--origin", "namespace=bk system", "-"], input: "failed release bk-paas;rm\n")
        let fix = try #require(try jsonObjects(r.stdout).first?["fix"] as? [String: Any])
        #expect(fix["commands"] as? [String] == ["helm rollback -n 'bk system' 'bk-paas;rm' <revision>", "echo ${HOME}"])
    }

    @Test func theReleaseComesFromWhatHelmfilePrintedBefore() throws {
        let dir = try writeUserCatalog(regex: "another operation \\(install/upgrade/rollback\\) is in progress", fixCommands: ["helm history -n blueking {release}"], example: "x")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = """
            Upgrading release=bk-ci, chart=blueking/bk-ci
            Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress

            """
        let r = try casewatch(["scan", "--format", "json", "--no-builtin", "--patterns", dir.path, "-"], input: input)
        let fix = try #require(try jsonObjects(r.stdout).first?["fix"] as? [String: Any])
        #expect(fix["commands"] as? [String] == ["helm history -n blueking bk-ci"])
    }

    /// Regression: a PCRE2 match-limit error on a hit was read as "no match" (exit 1, silence).
    @Test func aMatchLimitErrorIsReportedNotMissed() throws {
        let dir = try writeUserCatalog(symptomID: "runaway", regex: "(x+x+)+y", example: "xxy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let line = String(repeating: "x", count: 40) + "z xxy\n"
        let r = try casewatch(["scan", "--no-builtin", "--patterns", dir.path, "-"], input: "fine\n" + line)
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("-:2: case my-case, symptom runaway: Failed to match:"), "\(r.stderr)")
    }

    @Test func statsTotalOverAllInputs() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.log"), b = dir.appendingPathComponent("b.log")
        try "1\n2\n3\n".write(to: a, atomically: true, encoding: .utf8)
        try "4\n5".write(to: b, atomically: true, encoding: .utf8)
        let r = try casewatch(["scan", "--stats", a.path, b.path])
        #expect(r.stderr.contains("lines: 5\n"), "\(r.stderr)")
        #expect(r.stderr.contains("bytes: 9\n"), "\(r.stderr)")
    }

    @Test(arguments: [["--max-line-length", "0"], ["--max-line-length", "-5"], ["--origin", "colour=blue"], ["--context", "-1"]])
    func badOptionsAreUsageErrors(args: [String]) throws {
        let r = try casewatch(["scan"] + args + ["-"], input: "x\n")
        #expect(r.status == 2)
        #expect(r.stderr.contains(args[0]), "\(r.stderr)")
    }
}

/// A large saved file is matched on every core; the alerts are those of one core.
@Suite struct ParallelScanTests {
    let env = Paths.commandEnvironment

    /// The fields that do not depend on when the file was read.
    func stable(_ stdout: String) throws -> [String] {
        try jsonObjects(stdout).map { o in
            ["case_id", "line_number", "line", "count", "context", "dedup_key", "captures", "truncated_at", "explains", "superseded_by"]
                .map { "\($0)=\(o[$0].map { "\($0)" } ?? "-")" }.joined(separator: " ")
        }
    }

    @Test func twoCoresGiveTheAlertsOfOne() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let example = try String(contentsOf: Paths.root.appendingPathComponent("docs/examples/bkce7-base-install.log"), encoding: .utf8)
        var text = ""
        var generator = SeededGenerator(seed: 7)
        // ~12 MiB: quiet lines with the example's failures spread through, across block boundaries.
        while text.utf8.count < 12 << 20 {
            for _ in 0..<Int.random(in: 100...4000, using: &generator) {
                text += "2026-11-30 10:00:00 INFO worker-\(Int.random(in: 0...99, using: &generator)) processed request id=\(Int.random(in: 0...1_000_000, using: &generator)) in 12ms\n"
            }
            text += example
        }
        let path = dir.appendingPathComponent("big.log")
        try text.write(to: path, atomically: true, encoding: .utf8)
        let one = try runCommand(Paths.casewatch, ["scan", "--format", "json", "--jobs", "1", path.path], environment: env)
        let two = try runCommand(Paths.casewatch, ["scan", "--format", "json", "--jobs", "2", path.path], environment: env)
        #expect(one.status == 0 && two.status == 0, "\(one.stderr) \(two.stderr)")
        let a = try stable(one.stdout), b = try stable(two.stdout)
        #expect(a.count >= 10)
        #expect(a == b)
        let everyOne = try runCommand(Paths.casewatch, ["scan", "--count", "--no-dedup", "--jobs", "1", path.path], environment: env)
        let everyTwo = try runCommand(Paths.casewatch, ["scan", "--count", "--no-dedup", "--jobs", "2", path.path], environment: env)
        #expect(everyOne.stdout == everyTwo.stdout && !everyOne.stdout.isEmpty)
    }

    @Test func aLongLineIsCutTheSameOnEveryPath() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ipv6 = "nginx: [emerg] socket() [::]:80 failed (97: Address family not supported by protocol)"
        // Line 2 holds one symptom in its first MiB and another after it; line 3 is short.
        let text = "first\n" + ipv6 + " " + String(repeating: "z", count: 2 << 20) + #" Error: UPGRADE FAILED: "bk-repo" has no deployed releases"#
            + "\n" + String(repeating: "q", count: 5 << 20) + "\n" + #"Error: UPGRADE FAILED: "bk-ci" has no deployed releases"# + "\n"
        let path = dir.appendingPathComponent("long.log")
        try text.write(to: path, atomically: true, encoding: .utf8)
        var results: [[String]] = []
        for args in [["--jobs", "2", path.path], ["--jobs", "1", path.path], ["-"]] {
            let r = try runCommand(
                Paths.casewatch, ["scan", "--format", "json"] + args, input: args == ["-"] ? Data(text.utf8) : nil, environment: env)
            let objects = try jsonObjects(r.stdout)
            results.append(objects.map { "\($0["case_id"]!) line \($0["line_number"]!) cut \($0["truncated_at"] ?? "-")" })
        }
        #expect(results[0] == ["bkrepo-gateway-ipv6-disabled line 2 cut 1048576", "helm-no-deployed-releases line 4 cut -"])
        #expect(results[1] == results[0] && results[2] == results[0])
    }
}
