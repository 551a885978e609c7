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

    /// The fix: a summary in both languages, and the steps that carry it out.
    ///
    /// A step says what to do in both languages and may hold commands, a condition (`when`) and
    /// a choice of alternatives. Commands are shell commands, or lines that go into a file or a
    /// database (never shown as `$` lines). A destructive command (it deletes data, uninstalls,
    /// destroys) carries a warning, comes last in its step and needs the step's condition.
    public struct Fix: Sendable, Hashable {
        /// One command of a step.
        public struct Command: Sendable, Hashable {
            public enum Body: Sendable, Hashable {
                /// A shell command; `{name}` placeholders are filled when shown.
                case shell(String)
                /// Lines that go into a file (a hosts entry, a values snippet), not to run.
                case file(path: String, lines: [String])
                /// SQL statements to run in a database.
                case sql(database: String, lines: [String])
            }

            public var body: Body
            /// What the command destroys, in both languages; set exactly when it is destructive.
            public var warning: Localized?
            public var location: SourceLocation

            public var isDestructive: Bool { warning != nil }

            /// The shell command, if this is one.
            public var shell: String? {
                if case .shell(let s) = body { return s }
                return nil
            }

            public init(_ body: Body, warning: Localized? = nil, location: SourceLocation = SourceLocation(file: "<memory>", line: 0)) {
                self.body = body
                self.warning = warning
                self.location = location
            }

            /// A shell command.
            public static func run(_ command: String, warning: Localized? = nil) -> Command {
                Command(.shell(command), warning: warning)
            }
        }

        /// One step of a fix, or a choice between alternatives.
        public struct Step: Sendable, Hashable {
            /// What to do; empty in both languages for the single step of a fix written as a
            /// plain list of commands.
            public var text: Localized
            /// The condition under which the step applies, phrased to follow "if" / "如果".
            public var when: Localized?
            public var commands: [Command]
            /// Labelled alternatives (Option A, B...): the operator does exactly one of them.
            public var alternatives: [Step]
            public var location: SourceLocation

            public init(
                text: Localized, when: Localized? = nil, commands: [Command] = [], alternatives: [Step] = [],
                location: SourceLocation = SourceLocation(file: "<memory>", line: 0)
            ) {
                self.text = text
                self.when = when
                self.commands = commands
                self.alternatives = alternatives
                self.location = location
            }

            /// The shell commands of this step and its alternatives, in order.
            public var shellCommands: [String] {
                commands.compactMap(\.shell) + alternatives.flatMap(\.shellCommands)
            }
        }

        /// The summary, both languages.
        public var text: Localized
        public var steps: [Step]
        /// The BlueKing versions the steps are written for (`6.x`, `7.0`...); empty when they
        /// are those of the 7.x knowledge base.
        public var versions: [String]
        /// Literal values the commands name on purpose (a fixed release or pod of BlueKing, the
        /// address a fix pins): the catalog lint accepts them where it would take them for a
        /// value of someone's install.
        public var owns: [String]

        public init(text: Localized, steps: [Step] = [], versions: [String] = [], owns: [String] = []) {
            self.text = text
            self.steps = steps
            self.versions = versions
            self.owns = owns
        }

        /// A fix whose commands run in order after the summary (one step without text).
        public init(text: Localized, commands: [String]) {
            self.init(
                text: text,
                steps: commands.isEmpty ? [] : [Step(text: Localized(en: "", zh: ""), commands: commands.map { .run($0) })])
        }

        /// Every shell command of every step and alternative, in order.
        public var commands: [String] { steps.flatMap(\.shellCommands) }
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

    /// The `source.seed` of casewatch's own cases (what the daemon says about itself), which no
    /// knowledge-base page holds.
    public static let ownSeed = "casewatch"

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
