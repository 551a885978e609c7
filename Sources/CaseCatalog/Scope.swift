/// The kinds of log source casewatch reads.
public enum SourceKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// Pod and container logs through `kubectl logs -f`.
    case kubectl
    /// Kubernetes events.
    case events
    /// The systemd journal.
    case journald
    /// A log file.
    case file
    /// Standard input (a pipe).
    case stdin
    /// casewatch itself: what the daemon says about its own sources (a source that cannot
    /// read). Only the daemon makes such records; no log line can.
    case casewatch
}

/// Where a symptom applies. Every constraint is optional; a record that does not carry an
/// attribute (a piped log has no pod name) is not excluded by a constraint on it.
public struct Scope: Sendable, Hashable {
    public var sources: Set<SourceKind>?
    public var namespace: Glob?
    public var pod: Glob?
    public var container: Glob?
    public var unit: Glob?

    public init(
        sources: Set<SourceKind>? = nil, namespace: Glob? = nil, pod: Glob? = nil,
        container: Glob? = nil, unit: Glob? = nil
    ) {
        self.sources = sources
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.unit = unit
    }

    /// True when the scope places no constraint at all.
    public var isUniversal: Bool {
        sources == nil && namespace == nil && pod == nil && container == nil && unit == nil
    }

    /// The constraints, as `source: file, stdin; pod: bk-repo-*` (empty when universal).
    public var summary: String {
        var parts: [String] = []
        if let sources { parts.append("source: " + sources.map(\.rawValue).sorted().joined(separator: ", ")) }
        if let namespace { parts.append("namespace: \(namespace)") }
        if let pod { parts.append("pod: \(pod)") }
        if let container { parts.append("container: \(container)") }
        if let unit { parts.append("unit: \(unit)") }
        return parts.joined(separator: "; ")
    }

    /// Whether a record with these attributes is in scope.
    public func admits(_ origin: Origin) -> Bool {
        if let sources, !sources.contains(origin.kind) { return false }
        if let namespace, let value = origin.namespace, !namespace.matches(value) { return false }
        if let pod, let value = origin.pod, !pod.matches(value) { return false }
        if let container, let value = origin.container, !container.matches(value) { return false }
        if let unit, let value = origin.unit, !unit.matches(value) { return false }
        return true
    }
}

/// A shell-style glob: `*` any run of characters, `?` one character; everything else literal.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let bytes: [UInt8]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.bytes = Array(pattern.utf8)
    }

    public var description: String { pattern }

    public func matches(_ text: String) -> Bool {
        let t = Array(text.utf8)
        // Iterative wildcard matching with single-star backtracking.
        var p = 0, s = 0, starP = -1, starS = 0
        while s < t.count {
            if p < bytes.count, bytes[p] == UInt8(ascii: "?") || bytes[p] == t[s] && bytes[p] != UInt8(ascii: "*") {
                p += 1; s += 1
            } else if p < bytes.count, bytes[p] == UInt8(ascii: "*") {
                starP = p; starS = s; p += 1
            } else if starP >= 0 {
                p = starP + 1; starS += 1; s = starS
            } else {
                return false
            }
        }
        while p < bytes.count, bytes[p] == UInt8(ascii: "*") { p += 1 }
        return p == bytes.count
    }
}
