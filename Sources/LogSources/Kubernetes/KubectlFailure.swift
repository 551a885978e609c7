import Foundation

/// What kubectl's standard error says went wrong, and its cause, so each cause is reported once
/// (with the node or API server involved) however many streams hit it.
public struct KubectlFailure: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// The API server cannot reach a node's kubelet (port 10250).
        case kubelet
        /// The API server cannot be reached (refused, DNS, timeout).
        case apiServer
        /// TLS: an unknown authority or a bad certificate.
        case certificate
        /// RBAC refused the request.
        case forbidden
        /// The credentials were refused.
        case unauthorized
        /// The container has no log yet (waiting to start) or the previous one is gone: not a failure.
        case notReady
        /// The pod is gone.
        case notFound
        case other
    }

    public var kind: Kind
    /// The line kubectl printed (the record's text).
    public var line: String
    /// The node address or API server involved, when the line names one.
    public var host: String?

    public init(kind: Kind, line: String, host: String?) {
        self.kind = kind
        self.line = line
        self.host = host
    }

    /// The cause: one report per cause.
    public var cause: String { "\(kind.rawValue):\(host ?? (kind == .forbidden || kind == .other ? line : ""))" }

    /// The failures in kubectl's standard error (klog warnings and blank lines left out).
    public static func parse(_ stderr: String) -> [KubectlFailure] {
        stderr.split(separator: "\n").compactMap { classify(String($0)) }
    }

    static func classify(_ line: String) -> KubectlFailure? {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { return nil }
        // klog lines (W1130 07:01:13.123456 ... ) are kubectl's own chatter, except for errors.
        if let f = t.first, "IWE".contains(f), t.dropFirst().prefix(4).allSatisfy(\.isNumber) {
            guard t.first == "E" else { return nil }
        }
        if t.contains(":10250") {
            return KubectlFailure(kind: .kubelet, line: t, host: host(in: t, before: ":10250"))
        }
        if t.contains("x509:") || t.contains("tls: ") {
            return KubectlFailure(kind: .certificate, line: t, host: server(in: t))
        }
        if t.contains("(Forbidden)") || t.contains(" is forbidden: ") {
            return KubectlFailure(kind: .forbidden, line: t, host: nil)
        }
        if t.contains("(Unauthorized)") || t.contains("You must be logged in") {
            return KubectlFailure(kind: .unauthorized, line: t, host: server(in: t))
        }
        if t.contains("is waiting to start") || t.contains("ContainerCreating") || t.contains("PodInitializing")
            || (t.contains("previous terminated container") && t.contains("not found"))
        {
            return KubectlFailure(kind: .notReady, line: t, host: nil)
        }
        if t.contains("(NotFound)") {
            return KubectlFailure(kind: .notFound, line: t, host: nil)
        }
        if t.contains("Unable to connect to the server") || t.contains("The connection to the server") || t.contains("dial tcp") {
            return KubectlFailure(kind: .apiServer, line: t, host: server(in: t))
        }
        if t.hasPrefix("Error") || t.hasPrefix("error:") || t.hasPrefix("E") {
            return KubectlFailure(kind: .other, line: t, host: nil)
        }
        return nil
    }

    static func host(in line: String, before suffix: String) -> String? {
        // "dial tcp 10.0.1.3:10250" → 10.0.1.3
        guard let r = line.range(of: "dial tcp ") ?? line.range(of: "https://") else { return nil }
        let rest = line[r.upperBound...]
        guard let end = rest.range(of: suffix) else { return nil }
        return String(rest[..<end.lowerBound])
    }

    static func server(in line: String) -> String? {
        for marker in ["The connection to the server ", "https://", "http://", "dial tcp "] {
            if let r = line.range(of: marker) {
                let rest = line[r.upperBound...]
                let host = rest.prefix { !" /\"".contains($0) }
                let trimmed = host.hasSuffix(":") ? host.dropLast() : host
                if !trimmed.isEmpty { return String(trimmed) }
            }
        }
        return nil
    }
}
