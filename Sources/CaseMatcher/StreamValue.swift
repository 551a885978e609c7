/// A value a program prints before its errors, remembered per stream to fill a placeholder the
/// evidence line leaves open: the release helmfile was upgrading when helm failed, for example.
/// Matched in the same database pass as the symptoms; not a case, never an alert.
public struct StreamValue: Sendable, Hashable {
    /// A name for messages.
    public var id: String
    /// PCRE2, with named captures: each capture's name is the placeholder it fills.
    public var regex: String

    public init(id: String, regex: String) {
        self.id = id
        self.regex = regex
    }

    /// What casewatch remembers: each pattern is anchored on a literal, so it costs the scan
    /// next to nothing.
    public static let builtin: [StreamValue] = [
        // helmfile: "Upgrading release=bk-paas, chart=blueking/bk-paas[, namespace=blueking]"
        StreamValue(
            id: "helmfile-release",
            regex: #"(?:Upgrading|Installing|Deleting|Building dependency) release=(?<release>[A-Za-z0-9][-A-Za-z0-9.]*)(?:, chart=[^,\s]+)?(?:, namespace=(?<namespace>[a-z0-9][-a-z0-9]*))?"#),
        // helm: Release "bk-paas" does not exist. Installing it now. / has been upgraded.
        StreamValue(id: "helm-release", regex: #"Release "(?<release>[A-Za-z0-9][-A-Za-z0-9.]*)" (?:does not exist|has been upgraded|failed)"#),
        // helm status / history: "REVISION: 3", and a deployed row of `helm history`
        StreamValue(id: "helm-revision", regex: #"^REVISION: (?<revision>[0-9]+)$"#),
        StreamValue(id: "helm-history-deployed", regex: #"^(?<revision>[0-9]+)\s+\S.*\s(?:deployed|superseded)\s"#),
    ]
}
