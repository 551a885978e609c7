import ArgumentParser
import CaseCatalog
import Foundation

@main
struct Casewatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "casewatch",
        abstract: "Recognise known BlueKing / Kubernetes failure cases in logs and tell the fix.",
        discussion: """
            Exit status of `scan` (as grep): 0 when at least one case was found, 1 when none was,
            2 on an error (unreadable input, a catalog that does not load) or a usage error.
            `triage` the same, 2 also when the cluster cannot be reached at all.
            """,
        version: CasewatchVersion.string,
        subcommands: [Scan.self, Triage.self, Cases.self, Run.self, Validate.self, TestConfig.self, JournalCatalog.self, JournalRead.self])

    /// ArgumentParser's own `main`, except that a usage error (an unknown option, a value that
    /// does not validate) exits 2 as grep does, not 64 (`EX_USAGE`). Help and `--version` still
    /// exit 0, and every other error as before.
    static func main() async {
        do {
            // The async parse is the one ArgumentParser's `main` uses: it runs async validation.
            var command = try await asyncParseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            // What `exit(withError:)` prints for it: the message, then the usage.
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}
