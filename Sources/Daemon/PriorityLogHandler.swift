import Foundation
import Logging

/// Writes casewatch's own log lines to standard error with sd-daemon priority prefixes
/// (`<3>Failed to open journal: permission denied source=journald`), so journald keeps the level
/// of each line when the daemon runs under systemd, and a terminal still reads well.
public struct PriorityLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let prefixes: Bool

    /// `prefixes`: write the `<N>` prefixes (under systemd, or when stderr is not a terminal).
    public init(label: String, prefixes: Bool) {
        self.label = label
        self.prefixes = prefixes
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        var line = prefixes ? "<\(Self.priority(event.level))>" : ""
        line += "\(event.message)"
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { line += " \(k)=\(v)" }
        line = line.replacingOccurrences(of: "\n", with: " ") + "\n"
        line.withCString { p in _ = write(2, p, strlen(p)) }
    }
}
