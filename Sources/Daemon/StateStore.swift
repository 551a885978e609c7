import Alerting
import Foundation
import LogSources

/// What survives a restart, in the state directory: each source's position and the alert
/// book's open incidents, written together, atomically, after the alerts of the records before
/// the positions were handed to the sinks (never the reverse: that would lose alerts).
public final class StateStore: @unchecked Sendable {
    public struct State: Codable {
        public var version = 1
        /// Source name → where it resumes.
        public var positions: [String: RecordPosition] = [:]
        public var book: AlertBook.Snapshot?
    }

    public let directory: String
    private var path: String { directory + "/state.json" }

    /// Creates the directory (0700) if needed.
    public init(directory: String) throws {
        self.directory = directory
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
    }

    /// The saved state, or an empty one on a first start.
    public func load() throws -> State {
        guard let data = FileManager.default.contents(atPath: path) else { return State() }
        let state = try JSONDecoder().decode(State.self, from: data)
        return state.version == 1 ? state : State()
    }

    /// When the state was last written (its file's modification time), seconds since the epoch.
    public var lastSaved: Double? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)?.timeIntervalSince1970
    }

    public func save(_ state: State) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(state), to: path)
    }
}
