import ArgumentParser

@main
struct Casewatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "casewatch",
        abstract: "Recognise known BlueKing / Kubernetes failure cases in logs and tell the fix.",
        discussion: """
            Exit status of `scan` (as grep): 0 when at least one case was found, 1 when none was,
            2 on an error (unreadable input, a catalog that does not load).
            """,
        version: "0.1.0",
        subcommands: [Scan.self, Cases.self])
}
