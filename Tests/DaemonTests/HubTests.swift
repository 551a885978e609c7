import Alerting
import CaseCatalog
import Daemon
import Foundation
import LogSources
import Logging
import TestSupport
import Testing

@Suite struct HubTests {
    func hub(_ dir: URL) throws -> Hub {
        let setup = CatalogSetup(builtinDirectory: Paths.patterns, cacheDirectory: nil)
        let config = DaemonConfiguration()
        let compiled = try setup.compile(try setup.catalog(for: config))
        let store = try StateStore(directory: dir.path)
        return try Hub(
            generation: .init(compiled: compiled, options: CatalogSetup.pipelineOptions(config), sinks: [], routes: [:], configuration: config),
            store: store, state: try store.load(), saveInterval: 3600, logger: Logger(label: "test"))
    }

    /// Regression: every time the journal source caught up it forced a save, so entries arriving
    /// one by one cost a state file (two fsyncs) each.
    @Test func entriesOneByOneAreNotSavedOneByOne() throws {
        let dir = Paths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let h = try hub(dir)
        let origin = Origin(kind: .journald, name: "kubelet", identifier: "kubelet")
        for i in 0..<200 {
            let batch = RecordBatch()
            batch.append(LogRecord("quiet line \(i)", origin: origin, time: Double(i), position: .journal(cursor: "c\(i)")))
            try h.deliver(batch, from: "journald")
            h.saveIfDue()  // what the source's "caught up" does
        }
        #expect(h.saves == 1, "the first batch is saved at once, the rest when the interval has passed")
        #expect(h.nextSave != nil, "unsaved positions wait for the timer")
        h.save()
        #expect(h.saves == 2 && h.nextSave == nil)
        let saved = try StateStore(directory: dir.path).load()
        #expect(saved.positions["journald"] == .journal(cursor: "c199"))
    }
}
