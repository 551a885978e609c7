import Alerting
import CaseCatalog
import Foundation

/// What `casewatch triage` prints: the cases found, most severe first, each with the pods it
/// concerns and its fix with their names filled in; what was read; what could not be read.
struct TriageReport {
    /// One case and the pods it concerns.
    struct Finding {
        var knownCase: Case
        var alerts: [Alert]
        /// `namespace/pod`, in the order first seen.
        var pods: [String]
        /// Generic cases (its `supersedes`) found on the same pods and explained by this one.
        var explains: [String] = []
        var count: Int
    }

    let snapshot: TriageCollector.Snapshot
    let findings: [Finding]
    let namespaces: [String]
    let context: String?
    let outputDir: String?

    init(
        snapshot: TriageCollector.Snapshot, alerts: [Alert], counts: [String: Int], catalog: Catalog, namespaces: [String],
        context: String?, outputDir: String?
    ) {
        self.snapshot = snapshot
        self.namespaces = namespaces
        self.context = context
        self.outputDir = outputDir
        // Per case, the pods of its alerts.
        var order: [String] = []
        var byCase: [String: Finding] = [:]
        for a in alerts {
            if byCase[a.caseID] == nil {
                order.append(a.caseID)
                byCase[a.caseID] = Finding(knownCase: a.knownCase, alerts: [], pods: [], count: 0)
            }
            byCase[a.caseID]!.alerts.append(a)
            byCase[a.caseID]!.count += counts[a.alertID] ?? a.count
            if let pod = Self.pod(of: a), !byCase[a.caseID]!.pods.contains(pod) { byCase[a.caseID]!.pods.append(pod) }
        }
        // A generic case on a pod that a specific case explains (the specific case lists it in
        // `supersedes`) is told under the specific one, not on its own: the crash loop of a pod
        // whose previous log names the cause is that cause.
        for id in order {
            guard let generic = byCase[id] else { continue }
            var left = generic.pods
            for other in order where other != id {
                guard let specific = byCase[other], specific.knownCase.supersedes.contains(id) else { continue }
                let explained = left.filter { specific.pods.contains($0) }
                if !explained.isEmpty && !byCase[other]!.explains.contains(id) { byCase[other]!.explains.append(id) }
                left.removeAll { explained.contains($0) }
            }
            let podless = generic.alerts.filter { Self.pod(of: $0) == nil && $0.supersededBy.isEmpty }
            if left.isEmpty && podless.isEmpty {
                byCase[id] = nil
            } else if left.count < generic.pods.count {
                byCase[id]!.pods = left
                byCase[id]!.alerts = generic.alerts.filter { a in Self.pod(of: a).map { left.contains($0) } ?? true }
            }
        }
        // Most severe first; in the order found within a severity.
        findings = order.compactMap { byCase[$0] }.enumerated()
            .sorted { a, b in
                let (x, y) = (a.element.knownCase.severity, b.element.knownCase.severity)
                return x != y ? x > y : a.offset < b.offset
            }
            .map(\.element)
    }

    /// `namespace/pod` of an alert: its origin's, else what its line names.
    static func pod(of a: Alert) -> String? {
        func capture(_ n: String) -> String? { a.captures.last { $0.name == n }?.value }
        guard let pod = a.origin.pod ?? capture("pod") else { return nil }
        return "\(a.origin.namespace ?? capture("namespace") ?? "")/\(pod)"
    }

    private func podRecord(_ key: String) -> TriagePod? {
        snapshot.unhealthy.first { "\($0.namespace)/\($0.name)" == key }
    }

    /// The alert a finding's fix is filled from, with what triage knows of its pod added to the
    /// values placeholders may take (the pod's claim, its node).
    private func filled(_ f: Finding) -> Alert {
        var a = f.alerts.first { Self.pod(of: $0) != nil } ?? f.alerts[0]
        if let key = Self.pod(of: a), let pod = podRecord(key) {
            var extra: [String: String] = [:]
            if let claim = pod.claimNames.first { extra["pvc"] = claim }
            if let node = pod.spec?.nodeName { extra["node"] = node }
            extra["namespace"] = pod.namespace
            extra["pod"] = pod.name
            for (k, v) in extra where a.streamValues[k] == nil { a.streamValues[k] = v }
        }
        return a
    }

    // MARK: - Text

    func text(language: Language) -> String {
        let zh = language == .zh
        func t(_ z: String, _ e: String) -> String { zh ? z : e }
        var out = ""
        let rows = Dictionary(snapshot.rows.map { ("\($0.namespace)/\($0.name)", $0) }, uniquingKeysWith: { a, _ in a })
        if findings.isEmpty {
            out += t("未发现已知案例", "No known case found")
        } else {
            out += t("发现 \(findings.count) 个已知案例", "\(findings.count) known case\(findings.count == 1 ? "" : "s") found")
        }
        out += t("（\(snapshot.unhealthy.count) 个未就绪的 pod，共 \(snapshot.podsListed) 个）\n",
                 " (\(snapshot.unhealthy.count) pod\(snapshot.unhealthy.count == 1 ? "" : "s") not ready of \(snapshot.podsListed))\n")
        for (i, f) in findings.enumerated() {
            let c = f.knownCase
            let a = filled(f)
            out += "\n\(i + 1). [\(c.severity.rawValue)] \(c.title[language])  (\(c.id))\n"
            if !f.pods.isEmpty {
                out += "   \(t("pod", "pods"))\n"
                for p in f.pods {
                    if let r = rows[p] {
                        out += "     \(p)   \(r.ready)   \(r.status)   \(r.restarts)   \(r.age)\n"
                    } else {
                        out += "     \(p)\n"
                    }
                }
            }
            let ev = a.evidence.line.trimmingCharacters(in: .whitespaces)
            let clipped = ev.count > 240 ? String(ev.prefix(240)) + "…" : ev
            out += "   \(t("证据", "evidence")) \(a.origin.name): \(clipped)"
            out += f.count > 1 ? t("（共 \(f.count) 次）\n", " (\(f.count) times)\n") : "\n"
            if !f.explains.isEmpty {
                out += "   \(t("同时解释了", "explains")) \(f.explains.joined(separator: ", "))\n"
            }
            out += "   \(t("处理", "fix")) " + a.fill(c.fix.text[language]).trimmingCharacters(in: .whitespacesAndNewlines)
                .replacingOccurrences(of: "\n", with: "\n       ") + "\n"
            for line in FixRenderer.lines(c.fix, language: language, fill: { a.fill($0) }, command: { a.fill($0, shell: true) }) {
                out += String(line.dropFirst(1)) + "\n"
            }
        }
        out += "\n" + t("已查看：", "Looked at: ")
        out += t("\(snapshot.unhealthy.count) 个 pod，\(snapshot.logsRead) 份日志，\(snapshot.eventsRead) 条事件",
                 "\(snapshot.unhealthy.count) pod\(snapshot.unhealthy.count == 1 ? "" : "s"), \(snapshot.logsRead) log\(snapshot.logsRead == 1 ? "" : "s"), \(snapshot.eventsRead) event\(snapshot.eventsRead == 1 ? "" : "s")")
        out += t("（\(scopeText(zh: true))）\n", " (\(scopeText(zh: false)))\n")
        switch snapshot.helm {
        case .skipped(let why):
            out += t("helm：已跳过（未找到 helm 命令）\n", "helm: skipped (\(why))\n")
        case .failed(let why):
            out += "helm: " + t("读取失败：", "could not be read: ") + why + "\n"
        case .read(let releases):
            if releases.isEmpty {
                out += t("helm：没有失败或挂起的 release\n", "helm: no release failed or pending\n")
            } else {
                out += t("helm：\(releases.count) 个 release 失败或挂起\n", "helm: \(releases.count) release\(releases.count == 1 ? "" : "s") failed or pending\n")
                for r in releases {
                    out += "     \(r.namespace)/\(r.name)   \(r.status)   \(t("版本", "revision")) \(r.revision ?? "?")   \(r.chart ?? "")\n"
                }
            }
        }
        let problems = snapshot.problems
        if !problems.isEmpty {
            out += t("无法读取（\(problems.count)）：\n", "Could not read (\(problems.count)):\n")
            for p in problems {
                var what = p.what
                if let pod = p.pod { what += " \(p.namespace.map { $0 + "/" } ?? "")\(pod)" } else if let ns = p.namespace { what += " -n \(ns)" }
                if let c = p.container { what += " -c \(c)" }
                out += "  \(what): \(reasonText(p.reason, zh: zh)): \(p.message)\n"
            }
        }
        if let outputDir {
            out += t("已保存到 \(outputDir)（\(snapshot.files.count) 个文件）；用 casewatch scan \(outputDir)/* 可重现本报告\n",
                     "Saved in \(outputDir) (\(snapshot.files.count) files); casewatch scan \(outputDir)/* finds the same cases\n")
        }
        return out
    }

    private func scopeText(zh: Bool) -> String {
        var parts: [String] = []
        if let context { parts.append((zh ? "上下文 " : "context ") + context) }
        parts.append(namespaces.isEmpty ? (zh ? "所有命名空间" : "all namespaces") : (zh ? "命名空间 " : "namespace ") + namespaces.joined(separator: ", "))
        return parts.joined(separator: zh ? "，" : ", ")
    }

    private func reasonText(_ r: TriageCollector.Problem.Reason, zh: Bool) -> String {
        switch r {
        case .forbidden: zh ? "无权限（RBAC forbidden）" : "forbidden (RBAC)"
        case .kubeletUnreachable: zh ? "无法连接节点 kubelet（10250 端口）" : "the node's kubelet (port 10250) cannot be reached"
        case .timeout: zh ? "超时" : "timed out"
        case .unreachable: zh ? "无法连接 API server" : "the API server cannot be reached"
        case .unauthorized: zh ? "认证失败" : "the credentials were refused"
        case .certificate: zh ? "证书错误" : "certificate error"
        case .notReady: zh ? "容器尚无日志" : "the container has no log"
        case .notFound: zh ? "pod 已不存在" : "the pod is gone"
        case .error: zh ? "出错" : "failed"
        }
    }

    // MARK: - JSON

    struct JSONBody: Encodable {
        struct Text: Encodable { var en: String; var zh: String }
        struct Pod: Encodable { var namespace: String; var pod: String }
        struct Evidence: Encodable { var source: String; var line: String }
        struct CaseBody: Encodable {
            var case_id: String
            var severity: String
            var title: Text
            var pods: [Pod]
            var count: Int
            var evidence: Evidence
            var explains: [String]
            var fix: FixRenderer.JSON
        }
        struct LookedAt: Encodable {
            var pods_listed: Int
            var pods_not_ready: Int
            var logs: Int
            var events: Int
            var namespaces: [String]
            var context: String?
        }
        struct Helm: Encodable {
            var state: String
            var note: String?
            var releases: [TriageCollector.HelmRelease]
        }
        var cases: [CaseBody]
        var pods: [TriagePod.Row]
        var looked_at: LookedAt
        var helm: Helm
        var could_not_read: [TriageCollector.Problem]
        var output_dir: String?
    }

    func json() -> String {
        let cases = findings.map { f -> JSONBody.CaseBody in
            let a = filled(f)
            return JSONBody.CaseBody(
                case_id: f.knownCase.id, severity: f.knownCase.severity.rawValue,
                title: .init(en: f.knownCase.title.en, zh: f.knownCase.title.zh),
                pods: f.pods.map { p in
                    let parts = p.split(separator: "/", maxSplits: 1).map(String.init)
                    return .init(namespace: parts.first ?? "", pod: parts.last ?? "")
                },
                count: f.count, evidence: .init(source: a.origin.name, line: a.evidence.line), explains: f.explains,
                fix: FixRenderer.json(f.knownCase.fix, fill: { a.fill($0) }, command: { a.fill($0, shell: true) }))
        }
        let helm: JSONBody.Helm
        switch snapshot.helm {
        case .skipped(let why): helm = .init(state: "skipped", note: why, releases: [])
        case .failed(let why): helm = .init(state: "failed", note: why, releases: [])
        case .read(let r): helm = .init(state: "read", note: nil, releases: r)
        }
        let body = JSONBody(
            cases: cases, pods: snapshot.rows,
            looked_at: .init(
                pods_listed: snapshot.podsListed, pods_not_ready: snapshot.unhealthy.count, logs: snapshot.logsRead,
                events: snapshot.eventsRead, namespaces: namespaces, context: context),
            helm: helm, could_not_read: snapshot.problems, output_dir: outputDir)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(body)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
    }
}
