import Foundation

/// A core/v1 Event as `kubectl describe` shows it under "Events:" (Type, Reason, Age, From,
/// Message), e.g. `Warning  FailedScheduling  3m  default-scheduler  0/3 nodes are available: 3 Insufficient memory.`,
/// with the object it is about.
public struct EventLine: Sendable, Equatable {
    public var uid: String
    public var namespace: String
    public var type: String
    public var reason: String
    public var from: String
    public var message: String
    public var count: Int
    public var involvedKind: String
    public var involvedName: String
    /// The container named by the involved object's field path (`spec.containers{web}`).
    public var container: String?
    public var host: String?
    /// Nanoseconds since the epoch of the last occurrence (lastTimestamp, eventTime or the creation).
    public var last: Int64
    public var first: Int64

    public init?(event: [String: Any]) {
        guard let metadata = event["metadata"] as? [String: Any] else { return nil }
        uid = metadata["uid"] as? String ?? (metadata["name"] as? String ?? "")
        namespace = metadata["namespace"] as? String ?? "default"
        type = event["type"] as? String ?? "Normal"
        reason = event["reason"] as? String ?? ""
        message = (event["message"] as? String ?? (event["note"] as? String ?? "")).replacingOccurrences(of: "\n", with: " ")
        let source = event["source"] as? [String: Any] ?? [:]
        from = source["component"] as? String ?? event["reportingComponent"] as? String ?? ""
        host = source["host"] as? String
        let series = event["series"] as? [String: Any]
        count = event["count"] as? Int ?? series?["count"] as? Int ?? 1
        let object = event["involvedObject"] as? [String: Any] ?? event["regarding"] as? [String: Any] ?? [:]
        involvedKind = object["kind"] as? String ?? ""
        involvedName = object["name"] as? String ?? ""
        if let path = object["fieldPath"] as? String, let open = path.firstIndex(of: "{"), let close = path.lastIndex(of: "}"), open < close {
            container = String(path[path.index(after: open)..<close])
        }
        func time(_ key: String) -> Int64? { (event[key] as? String).flatMap(KubeTime.nanos) }
        let created = (metadata["creationTimestamp"] as? String).flatMap(KubeTime.nanos) ?? 0
        last = time("lastTimestamp") ?? (series?["lastObservedTime"] as? String).flatMap(KubeTime.nanos) ?? time("eventTime") ?? created
        first = time("firstTimestamp") ?? time("eventTime") ?? created
    }

    /// The describe line at `now` (seconds since the epoch).
    public func line(now: Double) -> String {
        var age = KubeTime.age(now - Double(last) / 1e9)
        if count > 1 { age += " (x\(count) over \(KubeTime.age(now - Double(first) / 1e9)))" }
        return "\(type)  \(reason)  \(age)  \(from.isEmpty ? "<unknown>" : from)  \(message)"
    }
}
