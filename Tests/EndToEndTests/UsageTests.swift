import CaseCatalog
import Foundation
import TestSupport
import Testing

/// Exit statuses of the command line itself, as grep's: 2 for a usage error, 0 for help.
@Suite struct UsageTests {
    /// Regression: an unknown option exited 64 (ArgumentParser's EX_USAGE), where the README
    /// promises grep's 2.
    @Test func anUnknownOptionExitsTwoWithTheUsage() throws {
        let r = try runCommand(Paths.casewatch, ["scan", "--no-such-flag"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("Unknown option '--no-such-flag'"), "\(r.stderr)")
        #expect(r.stderr.contains("Usage: casewatch scan"))
        #expect(r.stdout.isEmpty)
    }

    @Test(arguments: [
        (["--help"], 0, "USAGE: casewatch <subcommand>"),
        (["scan", "--help"], 0, "USAGE: casewatch scan"),
        (["--version"], 0, CasewatchVersion.string),
        (["no-such-command"], 2, "Unexpected argument 'no-such-command'"),
        (["scan", "--max-line-length", "many"], 2, "The value 'many' is invalid"),
        (["scan", "--format", "xml"], 2, "The value 'xml' is invalid for '--format <format>'"),
    ] as [([String], Int32, String)])
    func exitStatus(arguments: [String], status: Int32, text: String) throws {
        let r = try runCommand(Paths.casewatch, arguments)
        #expect(r.status == status, "\(r.stderr)")
        // Help and the version go to standard output; a usage error to standard error.
        #expect((status == 0 ? r.stdout : r.stderr).contains(text), "\(r.stdout)\(r.stderr)")
    }
}
