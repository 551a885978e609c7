import Foundation
import CaseCatalog

/// One line that took part in an alert.
public struct Evidence: Sendable, Hashable {
    public var symptomID: String
    public var lineNumber: Int
    public var line: String
    /// Set when the line was longer than the reader's cap: the length it was cut at.
    public var truncatedAt: Int?

    public init(symptomID: String, lineNumber: Int, line: String, truncatedAt: Int? = nil) {
        self.symptomID = symptomID
        self.lineNumber = lineNumber
        self.line = line
        self.truncatedAt = truncatedAt
    }
}

/// A named capture of a matched line.
public struct Capture: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A case recognised in a log: which case, the evidence, and what to do.
public struct Alert: Sendable {
    public var knownCase: Case
    public var origin: Origin
    /// The line that completed the case (the last step of a sequence).
    public var evidence: Evidence
    /// Earlier lines of a sequence, in order.
    public var earlier: [Evidence]
    public var captures: [Capture]
    /// Seconds since the epoch: the record's own time, or when it was read.
    public var time: Double
    /// More specific cases found in the same window that explain this generic one.
    public var supersededBy: [String]
    /// Generic cases raised earlier in the window that this case explains.
    public var explains: [String]

    public var caseID: String { knownCase.id }

    public init(
        knownCase: Case, origin: Origin, evidence: Evidence, earlier: [Evidence] = [], captures: [Capture] = [],
        time: Double, supersededBy: [String] = [], explains: [String] = []
    ) {
        self.knownCase = knownCase
        self.origin = origin
        self.evidence = evidence
        self.earlier = earlier
        self.captures = captures
        self.time = time
        self.supersededBy = supersededBy
        self.explains = explains
    }

    /// The fix commands with `{name}` placeholders filled from the captures.
    public var fixCommands: [String] {
        knownCase.fix.commands.map(fill)
    }

    /// Fills `{name}` placeholders with the captures of this alert; others stay as they are.
    public func fill(_ text: String) -> String {
        var result = text
        for capture in captures {
            result = result.replacingOccurrences(of: "{\(capture.name)}", with: capture.value)
        }
        return result
    }
}
