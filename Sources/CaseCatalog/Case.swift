/// One failure case of the knowledge base: what it looks like in the logs, why it happens and
/// how to fix it.
public struct Case: Sendable, Hashable {
    /// Severity of a case, from the operator's point of view.
    public enum Severity: String, Sendable, Hashable, CaseIterable, Comparable {
        case critical, error, warning, info

        /// The syslog priority journald uses for this severity (`PRIORITY=`).
        public var syslogPriority: Int {
            switch self {
            case .critical: 2
            case .error: 3
            case .warning: 4
            case .info: 6
            }
        }

        public static func < (lhs: Severity, rhs: Severity) -> Bool {
            lhs.syslogPriority > rhs.syslogPriority
        }
    }

    /// Where the case comes from in the knowledge base.
    public struct SeedReference: Sendable, Hashable {
        public var seed: String
        public var heading: String
        /// The same case in other seed files, as `file#heading`.
        public var also: [String]

        public init(seed: String, heading: String, also: [String] = []) {
            self.seed = seed
            self.heading = heading
            self.also = also
        }
    }

    /// The fix: prose in both languages, and the commands to run.
    public struct Fix: Sendable, Hashable {
        public var text: Localized
        /// Commands exactly as the knowledge base gives them; `{name}` is filled from a capture.
        public var commands: [String]

        public init(text: Localized, commands: [String] = []) {
            self.text = text
            self.commands = commands
        }
    }

    /// The case's own test data.
    public struct Examples: Sendable, Hashable {
        /// Logs that must raise this case. An example of several lines is one log, in order.
        public var match: [String]
        /// Logs that must not raise this case.
        public var noMatch: [String]

        public init(match: [String] = [], noMatch: [String] = []) {
            self.match = match
            self.noMatch = noMatch
        }
    }

    /// The stable public name (kebab-case).
    public var id: String
    public var title: Localized
    public var severity: Severity
    public var source: SeedReference
    public var symptoms: [Symptom]
    /// How symptoms combine; `nil` means any one symptom raises the case.
    public var trigger: Trigger?
    /// Generic cases that this more specific case explains.
    public var supersedes: [String]
    public var diagnosis: Localized
    public var fix: Fix
    public var examples: Examples
    /// Where the case is defined.
    public var location: SourceLocation

    /// False for cases documented from a web page only: no log line shows them.
    public var hasLogSignature: Bool { !symptoms.isEmpty }

    public init(
        id: String, title: Localized, severity: Severity, source: SeedReference,
        symptoms: [Symptom], trigger: Trigger? = nil, supersedes: [String] = [],
        diagnosis: Localized, fix: Fix, examples: Examples = Examples(),
        location: SourceLocation = SourceLocation(file: "<memory>", line: 0)
    ) {
        self.id = id
        self.title = title
        self.severity = severity
        self.source = source
        self.symptoms = symptoms
        self.trigger = trigger
        self.supersedes = supersedes
        self.diagnosis = diagnosis
        self.fix = fix
        self.examples = examples
        self.location = location
    }

    /// The symptom with this id, if any.
    public func symptom(_ id: String) -> Symptom? {
        symptoms.first { $0.id == id }
    }
}
