import Alerting
import ArgumentParser
import Foundation

struct JournalCatalog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal-catalog",
        abstract: "Write the systemd message catalog of the cases, for journalctl -x.",
        discussion: """
            One section per case and language (`-- <MESSAGE_ID>` and `-- <MESSAGE_ID> zh_CN`),
            matching the MESSAGE_ID the journald sink writes with each alert. Install it and
            rebuild journald's catalog database:

                casewatch journal-catalog --output /usr/lib/systemd/catalog/casewatch.catalog
                journalctl --update-catalog

            Then `journalctl -x -t casewatch` shows, under each alert, where it is, the log line,
            why it happens and what to do, offline. The catalog follows the configuration's
            pattern directories: regenerate it when cases are added.
            """)

    @OptionGroup var catalog: CatalogOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "FILE"))
    var output: String?

    @Option(help: ArgumentHelp("The Documentation: link of each case; #<case id> is appended.", valueName: "URL"))
    var documentation = JournalCatalogDocument.defaultDocumentation

    func run() throws {
        let (_, cat) = try loadOrExit(catalog)
        let text = JournalCatalogDocument.render(cat, documentation: documentation)
        guard let output else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            FileHandle.standardError.write(Data("casewatch: Failed to write \(output): \(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
    }
}
