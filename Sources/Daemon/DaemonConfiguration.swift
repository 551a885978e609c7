import CaseCatalog
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The configuration of casewatch (Config/casewatch.yaml), a public interface: the key names are
/// fixed by the product's issues and documented in the default file, each with its type and
/// default. Parsing and validation live in `DaemonConfiguration+Load.swift`.
public struct DaemonConfiguration: Sendable {
    public static let defaultPath = "/etc/casewatch/casewatch.yaml"

    /// nil: from the locale (`auto`).
    public var language: Language?
    /// Positions, the alert book, caches; $STATE_DIRECTORY when systemd sets it.
    public var stateDirectory = "/var/lib/casewatch"
    public var patterns = Patterns()
    /// Seconds SIGTERM may take: finish the records read, hand their alerts over, save positions.
    public var shutdownTimeout: Double = 10
    public var dedup = Dedup()
    public var context = Context()
    public var sources = Sources()
    public var sinks = Sinks()
    /// Prometheus metrics over HTTP; nil (the key absent): none served.
    public var metrics: Metrics?
    /// The webhook sinks' on-disk queues.
    public var spool = Spool()
    /// What is masked in the log lines webhooks send.
    public var redact = Redact()
    /// Warnings to show (deprecated forms), with their file:line.
    public var warnings: [String] = []
    /// The file it was read from.
    public var path: String?

    public init() {}

    public struct Patterns: Sendable {
        /// Load the installed catalog.
        public var builtin = true
        /// Directories of the operator's own cases.
        public var dirs: [String] = []
        public var overrides: [Override] = []
    }

    /// Per case: what the operator changes without editing the catalog.
    public struct Override: Sendable {
        public var caseID: String
        public var enabled: Bool?
        public var severity: Case.Severity?
        /// Seconds.
        public var dedupWindow: Double?
        /// Replaces the scope of every symptom of the case.
        public var scope: Scope?
        /// Sink names the case's alerts go to (default: every sink).
        public var sinks: [String]?
        /// Where it is written, for messages.
        public var line: Int
    }

    public struct Dedup: Sendable {
        public var enabled = true
        public var window: Double = 600
        public var remind: Double = 3600
    }

    public struct Context: Sendable {
        public var before = 3
    }

    public struct Sources: Sendable {
        public var journald: Journald?
        public var kubernetes: Kubernetes?
        /// `sources.files` and its `files_*` settings (DaemonConfiguration+Files.swift).
        public var files: Files?
    }

    public struct Journald: Sendable {
        public var units: [String] = []
        public var identifiers: [String] = []
        /// The least important priority read, 0 (emerg) ... 7 (debug).
        public var priority = 6
        public enum Since: String, Sendable { case now, all }
        /// Where reading starts the first time (afterwards: after the saved cursor).
        public var since: Since = .now
        /// A journal directory instead of the local system journal (for tests and containers).
        public var directory: String?
    }

    public struct Sinks: Sendable {
        public var console: Console?
        public var journald: JournaldSink?
        public var webhooks: [Webhook] = []
        /// The names `overrides[].sinks` may use.
        public var names: [String] {
            (console == nil ? [] : ["console"]) + (journald == nil ? [] : ["journald"]) + webhooks.map(\.name)
        }
    }

    public struct Console: Sendable {
        public enum Format: String, Sendable { case text, json }
        public var format: Format = .text
    }

    public struct JournaldSink: Sendable {}

    public struct Metrics: Sendable, Equatable {
        /// An IP address literal: IPv4 (127.0.0.1) or IPv6 without brackets (::1).
        public var host: String
        public var port: Int
        /// As written in the file: `127.0.0.1:9469`, `[::1]:9469`.
        public var listen: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port` with an IP address literal (IPv6 in brackets) and a port 1-65535; nil when
        /// it is not that. Names are refused: what a name resolves to may change under the daemon.
        public init?(listen: String) {
            let host: Substring
            let port: Substring
            if listen.hasPrefix("[") {
                guard let close = listen.firstIndex(of: "]"), listen[listen.index(after: close)...].hasPrefix(":") else { return nil }
                host = listen[listen.index(after: listen.startIndex)..<close]
                port = listen[listen.index(close, offsetBy: 2)...]
                guard host.contains(":") else { return nil }
            } else {
                guard let colon = listen.lastIndex(of: ":") else { return nil }
                host = listen[..<colon]
                port = listen[listen.index(after: colon)...]
                guard !host.contains(":") else { return nil }
            }
            guard let p = Int(port), (1...65535).contains(p), port.allSatisfy(\.isASCII) else { return nil }
            guard Self.isAddress(String(host)) else { return nil }
            self.host = String(host)
            self.port = p
        }

        static func isAddress(_ host: String) -> Bool {
            var v4 = in_addr()
            var v6 = in6_addr()
            return inet_pton(AF_INET, host, &v4) == 1 || (host.contains(":") && inet_pton(AF_INET6, host, &v6) == 1)
        }
    }
}
