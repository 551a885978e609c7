import Foundation

/// A `kubectl describe pod`-like text built from the pod's JSON and its events, instead of
/// running `kubectl describe` for every pod: the pod list already holds everything describe
/// shows of the pod's state, describe would cost two more API calls per pod (the pod and its
/// events) and depend on whatever else a given kubectl version asks the server for. The layout
/// follows describe's for what cases match on: container `State:` / `Reason:` blocks,
/// conditions, claims and the `Events:` table.
extension TriagePod {
    func describe(events: [TriageEvent], now: Double) -> [String] {
        var out: [String] = []
        func field(_ indent: Int, _ label: String, _ value: String?) {
            guard let value, !value.isEmpty else { return }
            let head = String(repeating: " ", count: indent) + label + ":"
            out.append(head.padding(toLength: max(head.count + 1, 18), withPad: " ", startingAt: 0) + value)
        }
        field(0, "Name", name)
        field(0, "Namespace", namespace)
        let node = [spec?.nodeName, status?.hostIP].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
        field(0, "Node", node.isEmpty ? "<none>" : node)
        field(0, "Start Time", status?.startTime)
        field(0, "Status", metadata.deletionTimestamp != nil ? "Terminating" : status?.phase)
        field(0, "Reason", status?.reason)
        field(0, "Message", status?.message.map(oneLine))
        field(0, "IP", status?.podIP)
        func containers(_ title: String, _ specs: [Spec.Container], _ statuses: [ContainerStatus]) {
            guard !specs.isEmpty || !statuses.isEmpty else { return }
            out.append(title + ":")
            let names = specs.isEmpty ? statuses.map(\.name) : specs.map(\.name)
            for name in names {
                out.append("  \(name):")
                let c = statuses.first { $0.name == name }
                field(4, "Image", specs.first { $0.name == name }?.image ?? c?.image)
                state(c?.state, label: "State")
                state(c?.lastState, label: "Last State")
                field(4, "Ready", c.map { ($0.ready ?? false) ? "True" : "False" })
                field(4, "Restart Count", c.map { "\($0.restartCount ?? 0)" })
            }
        }
        func state(_ s: ContainerState?, label: String) {
            guard let s else { return }
            if let w = s.waiting {
                field(4, label, "Waiting")
                field(6, "Reason", w.reason)
                field(6, "Message", w.message.map(oneLine))
            } else if let r = s.running {
                field(4, label, "Running")
                field(6, "Started", r.startedAt)
            } else if let t = s.terminated {
                field(4, label, "Terminated")
                field(6, "Reason", t.reason)
                field(6, "Message", t.message.map(oneLine))
                field(6, "Exit Code", t.exitCode.map(String.init))
                if let sig = t.signal, sig != 0 { field(6, "Signal", "\(sig)") }
                field(6, "Started", t.startedAt)
                field(6, "Finished", t.finishedAt)
            }
        }
        containers("Init Containers", spec?.initContainers ?? [], status?.initContainerStatuses ?? [])
        containers("Containers", spec?.containers ?? [], status?.containerStatuses ?? [])
        if let conditions = status?.conditions, !conditions.isEmpty {
            out.append("Conditions:")
            out.append("  Type              Status")
            for c in conditions {
                out.append("  " + c.type.padding(toLength: max(c.type.count + 1, 18), withPad: " ", startingAt: 0) + c.status)
            }
        }
        let claims = (spec?.volumes ?? []).filter { $0.persistentVolumeClaim != nil }
        if !claims.isEmpty {
            out.append("Volumes:")
            for v in claims {
                out.append("  \(v.name):")
                field(4, "Type", "PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)")
                field(4, "ClaimName", v.persistentVolumeClaim?.claimName)
            }
        }
        if events.isEmpty {
            out.append("Events:            <none>")
        } else {
            out.append("Events:")
            out.append("  Type  Reason  Age  From  Message")
            out.append("  ----  ------  ----  ----  -------")
            for e in events.sorted(by: { ($0.lastSeen ?? 0) < ($1.lastSeen ?? 0) }) { out.append(e.describeLine(now: now)) }
        }
        return out
    }
}
