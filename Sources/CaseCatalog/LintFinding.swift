/// Something `casewatch cases lint` reports about a case: where, which rule, and why.
public struct LintFinding: Sendable, Hashable, CustomStringConvertible {
    public var caseID: String
    /// The symptom concerned, when the rule is about one.
    public var symptomID: String?
    /// The regex line of the symptom, or the case's first line.
    public var location: SourceLocation
    /// The rule's kebab-case id, such as `no-required-literal`.
    public var rule: String
    public var message: String

    public init(caseID: String, symptomID: String? = nil, location: SourceLocation, rule: String, message: String) {
        self.caseID = caseID
        self.symptomID = symptomID
        self.location = location
        self.rule = rule
        self.message = message
    }

    /// `file:line: case ID: rule: message`, the form compilers use, so editors can jump to it.
    public var description: String {
        "\(location): case \(caseID): \(rule): \(symptomID.map { "symptom \($0): " } ?? "")\(message)"
    }
}
