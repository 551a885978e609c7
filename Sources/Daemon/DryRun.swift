import Alerting
import CaseCatalog
import CaseMatcher
import Foundation
import LogSources

/// `casewatch test`: a sample log through exactly the configured pipeline (overrides, scopes,
/// dedup), and for each case the log holds evidence of but that did not fire, why not: the
/// tool's answer to "why did my case not fire?" (fail2ban-regex, for this tool).
public struct DryRun {
    public struct Fired {
        public var alert: Alert
    }

    public struct Missed {
        public var caseID: String
        /// Lines where one of its symptoms matches when scopes and triggers are set aside.
        public var lines: [Int]
        public var reason: String
    }

    public var alerts: [Alert] = []
    public var missed: [Missed] = []
    public var lines = 0

    /// Runs `path` (a file, or `-`) as records of `origin` through `config`'s pipeline.
    public static func run(
        config: DaemonConfiguration, setup: CatalogSetup, path: String, origin: Origin, language: Language
    ) throws -> DryRun {
        var result = DryRun()
        let catalog = try setup.catalog(for: config)
        let compiled = try setup.compile(catalog)
        let pipeline = try Pipeline(compiled: compiled, options: CatalogSetup.pipelineOptions(config))
        // The same catalog without overrides, scopes or triggers: where the evidence is.
        var bare = config
        bare.patterns.overrides = []
        let all = try setup.catalog(for: bare)
        let loose = try Catalog(cases: all.cases.map { c in
            var c = c
            c.trigger = nil
            c.supersedes = []
            for i in c.symptoms.indices { c.symptoms[i].scope = Scope() }
            return c
        })
        let looseCompiled = try setup.compile(loose)
        let witness = try Pipeline(compiled: looseCompiled, options: .init(book: .init(dedup: false), contextBefore: 0))
        var evidence: [String: (symptoms: Set<String>, lines: [Int])] = [:]

        var reader = try ChunkedLineReader(path: path)
        let batch = RecordBatch()
        let copy = RecordBatch()
        var failure: Error?
        try reader.forEachChunk { chunk in
            let now = Date().timeIntervalSince1970
            copy.removeAll()
            copy.append(UnsafeRawBufferPointer(chunk.bytes), origin: origin, firstLine: chunk.firstLine, time: now, end: .none)
            batch.removeAll()
            batch.borrow(chunk.bytes, origin: origin, firstLine: chunk.firstLine, time: now, end: .none)
            try pipeline.process(batch, failed: { failure = failure ?? $0 }) { a in
                if a.state == .firing && a.sequence == 1 { result.alerts.append(a) }
            }
            try witness.process(copy, failed: { failure = failure ?? $0 }) { a in
                evidence[a.caseID, default: ([], [])].symptoms.insert(a.evidence.symptomID)
                evidence[a.caseID, default: ([], [])].lines.append(a.evidence.lineNumber)
            }
            result.lines = chunk.firstLine - 1 + countNewlines(UnsafeRawBufferPointer(chunk.bytes))
        }
        if let failure { throw failure }
        pipeline.finish { update in
            if let i = result.alerts.firstIndex(where: { $0.alertID == update.alertID }) { result.alerts[i] = update }
        }
        let fired = Set(result.alerts.map(\.caseID))
        for (caseID, e) in evidence.sorted(by: { $0.key < $1.key }) where !fired.contains(caseID) {
            result.missed.append(Missed(
                caseID: caseID, lines: e.lines, reason: reason(caseID, e.symptoms, config: config, catalog: catalog, all: all, origin: origin, language: language)))
        }
        return result
    }

    static func reason(
        _ caseID: String, _ symptoms: Set<String>, config: DaemonConfiguration, catalog: Catalog, all: Catalog,
        origin: Origin, language: Language
    ) -> String {
        let zh = language == .zh
        if let o = config.patterns.overrides.first(where: { $0.caseID == caseID && $0.enabled == false }) {
            return zh ? "已被配置禁用（\(config.path ?? "配置"):\(o.line) patterns.overrides）" : "disabled by patterns.overrides (\(config.path ?? "config"):\(o.line))"
        }
        guard let c = catalog[caseID] ?? all[caseID] else { return zh ? "不在目录中" : "not in the catalog" }
        let inScope = c.symptoms.filter { symptoms.contains($0.id) && $0.scope.admits(origin) }
        if inScope.isEmpty {
            let scopes = c.symptoms.filter { symptoms.contains($0.id) }.map { "\($0.id): \(describe($0.scope))" }.joined(separator: "; ")
            return (zh ? "症状不在作用范围内（" : "out of scope (") + scopes + (zh ? "）；日志来源：" : "); this log's origin: ") + describe(origin)
        }
        if let t = c.trigger {
            if t.steps.isEmpty {
                return zh ? "需要在 \(Int(t.window)) 秒内出现 \(t.count) 次" : "needs \(t.count) hits within \(Int(t.window))s in one stream"
            }
            let seen = inScope.map(\.id)
            let steps = t.steps.map { $0.joined(separator: "|") }.joined(separator: " → ")
            let unless = t.unless.isEmpty ? "" : (zh ? "，且未出现 \(t.unless.joined(separator: ", "))" : ", unless \(t.unless.joined(separator: ", "))")
            return (zh ? "需要按顺序出现 \(steps)（\(Int(t.window)) 秒内\(t.windowLines.map { "、相隔不超过 \($0) 行" } ?? "")）\(unless)；只看到 " : "needs \(steps) in order within \(Int(t.window))s\(t.windowLines.map { ", at most \($0) lines apart" } ?? "")\(unless); saw only ") + seen.joined(separator: ", ")
        }
        return zh ? "原因不明" : "no reason found"
    }

    static func describe(_ scope: Scope) -> String {
        scope.isUniversal ? "anywhere" : scope.summary
    }

    static func describe(_ o: Origin) -> String {
        var parts = ["source \(o.kind.rawValue)"]
        for f in Origin.fieldNames { if let v = o[f], f != "file" { parts.append("\(f) \(v)") } }
        return parts.joined(separator: ", ")
    }
}
