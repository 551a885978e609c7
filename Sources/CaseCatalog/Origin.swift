/// Where a log line comes from: the attributes scopes, dedup keys and alerts use. Fields a
/// source does not know stay nil (a piped log has no pod).
public struct Origin: Sendable, Hashable, Codable {
    public var kind: SourceKind
    /// How a person names the source: a file path, `-` for standard input,
    /// `namespace/pod/container` for a pod log, the unit for the journal...
    public var name: String
    public var host: String?
    public var namespace: String?
    public var pod: String?
    public var container: String?
    public var node: String?
    /// systemd unit (journald records).
    public var unit: String?
    /// syslog identifier (journald records).
    public var identifier: String?
    /// File path (file records).
    public var file: String?

    public init(
        kind: SourceKind, name: String, host: String? = nil, namespace: String? = nil, pod: String? = nil,
        container: String? = nil, node: String? = nil, unit: String? = nil, identifier: String? = nil,
        file: String? = nil
    ) {
        self.kind = kind
        self.name = name
        self.host = host
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.node = node
        self.unit = unit
        self.identifier = identifier
        self.file = file
    }

    /// The stream a line belongs to, for per-stream state (sequences, counts, context lines):
    /// one pod container, one unit or syslog identifier, one file, one input.
    public var streamKey: String {
        if pod != nil || container != nil {
            return "k8s:\(namespace ?? "")/\(pod ?? "")/\(container ?? "")"
        }
        if let unit { return "unit:\(host ?? "")/\(unit)" }
        if let identifier { return "id:\(host ?? "")/\(identifier)" }
        if let file { return "file:\(file)" }
        return "\(kind.rawValue):\(name)"
    }

    /// The value of a field by the name placeholders and `--origin` use, or nil.
    public subscript(field: String) -> String? {
        switch field {
        case "host": host
        case "namespace": namespace
        case "pod": pod
        case "container": container
        case "node": node
        case "unit": unit
        case "identifier": identifier
        case "file": file
        default: nil
        }
    }

    /// The fields `--origin key=value` and the subscript know.
    public static let fieldNames = ["host", "namespace", "pod", "container", "node", "unit", "identifier", "file"]

    /// Sets a field by name; false for an unknown name.
    @discardableResult
    public mutating func set(_ field: String, _ value: String?) -> Bool {
        switch field {
        case "host": host = value
        case "namespace": namespace = value
        case "pod": pod = value
        case "container": container = value
        case "node": node = value
        case "unit": unit = value
        case "identifier": identifier = value
        case "file": file = value
        default: return false
        }
        return true
    }
}
