import CaseCatalog
import Foundation

/// Where alerts go. A sink's `write` returns once the alert is durable for that sink (in the
/// journal, in the spool): the daemon saves a source's position only after every sink has
/// written the alerts of the records before it. A sink that throws is retried; the records'
/// position is not saved until it succeeds.
public protocol AlertSink: AnyObject {
    /// The name `overrides[].sinks` uses: console, journald, a webhook's name.
    var name: String { get }
    func write(_ alert: Alert) throws
}

/// Alerts on standard output, as `scan` prints them: for a daemon run in the foreground.
public final class ConsoleSink: AlertSink {
    public let name = "console"
    private let formatter: AlertFormatter

    public init(formatter: AlertFormatter) {
        self.formatter = formatter
    }

    public func write(_ alert: Alert) throws {
        var text = formatter.render(alert)
        if formatter.format == .text && alert.sequence == 1 && alert.state == .firing { text += "\n" }
        try text.withCString { p in
            var offset = 0
            let n = strlen(p)
            while offset < n {
                let w = Foundation.write(1, p + offset, n - offset)
                if w < 0 {
                    if errno == EINTR { continue }
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                offset += w
            }
        }
    }
}
