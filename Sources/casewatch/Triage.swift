import Alerting
import ArgumentParser
import CaseCatalog
import CaseMatcher
import Daemon
import Foundation
import LogSources

struct Triage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "After a failed install: read the pods that are not ready, their logs and events, and name the cases.",
        discussion: """
            One round of what the knowledge base asks after "timed out waiting for the condition", through the real kubectl with your kubeconfig: the pods that are neither Ready nor Completed (`kubectl get pods`), for each a describe with its events, the current log and the previous log of each container that ran (--since, --limit-bytes), the namespaces' Warning events, and the helm releases that failed or are pending (`helm list -A --failed --pending`, when helm is on PATH). All of it goes through the same matching as `scan`, with the pod and container of each line, and the report names the cases found, most severe first, with the pods they concern and the fix; then what was read, and what could not be read and why.

            Bounds: at most --concurrency kubectl processes at a time, each stopped after --call-timeout seconds, the whole round after --timeout seconds; whatever could be read is still reported.

            --output-dir keeps everything read, one file per pod and kind in the `kubectl logs --prefix` form with the namespace added ([pod/NAMESPACE/NAME/CONTAINER] line), so `casewatch scan DIR/*` finds the same cases again.

            Exit status as `scan`: 0 when a case was found, 1 when none was, 2 when the cluster could not be reached at all (or on a usage error).
            """)

    @OptionGroup var catalog: CatalogOptions
    @OptionGroup var languageOption: LanguageOption

    @Option(help: ArgumentHelp("The kubeconfig file (default: kubectl's own: $KUBECONFIG, ~/.kube/config).", valueName: "FILE"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("The kubeconfig context (default: its current context).", valueName: "NAME"))
    var context: String?

    @Option(name: [.customShort("n"), .customLong("namespace")], help: ArgumentHelp(
        "Only this namespace (repeatable; default: all namespaces).", valueName: "NS"))
    var namespaces: [String] = []

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "All namespaces (the default without -n).")
    var allNamespaces = false

    @Option(help: ArgumentHelp("How far back logs and events are read: 90s, 30m, 2h, 1h30m.", valueName: "DURATION"))
    var since = "2h"

    @Option(help: "Output format: text or json (one JSON object).")
    var format: AlertFormatter.Format = .text

    @Option(help: ArgumentHelp("Keep everything read in this directory, one file per pod and kind.", valueName: "DIR"))
    var outputDir: String?

    @Option(help: ArgumentHelp("The kubectl program (default: kubectl on PATH).", valueName: "PATH"))
    var kubectl: String?

    @Option(help: ArgumentHelp("kubectl's --cache-dir (discovery cache; default: kubectl's own).", valueName: "DIR"))
    var kubectlCacheDir: String?

    @Option(help: ArgumentHelp("kubectl processes run at once.", valueName: "N"))
    var concurrency = 8

    @Option(help: ArgumentHelp("Seconds one kubectl or helm call may take.", valueName: "SECONDS"))
    var callTimeout = 15.0

    @Option(help: ArgumentHelp("Seconds the whole round may take; what is read by then is reported.", valueName: "SECONDS"))
    var timeout = 50.0

    @Option(help: ArgumentHelp("Bytes read of each log at most (kubectl logs --limit-bytes).", valueName: "BYTES"))
    var limitBytes = 512 * 1024

    func validate() throws {
        if Self.seconds(since) == nil { throw ValidationError("--since '\(since)': expected a duration such as 90s, 30m, 2h or 1h30m") }
        if !namespaces.isEmpty && allNamespaces { throw ValidationError("-n/--namespace and -A/--all-namespaces exclude each other") }
        if concurrency < 1 { throw ValidationError("--concurrency must be at least 1, got \(concurrency)") }
        if !(callTimeout > 0) { throw ValidationError("--call-timeout must be positive, got \(callTimeout)") }
        if !(timeout > 0) { throw ValidationError("--timeout must be positive, got \(timeout)") }
        if limitBytes < 1 { throw ValidationError("--limit-bytes must be at least 1, got \(limitBytes)") }
    }

    /// A Go-style duration (`1h30m`, `90s`, `2h`) in whole seconds, or nil.
    static func seconds(_ text: String) -> Int? {
        var total = 0, number = 0, digits = 0
        var sawUnit = false
        for ch in text {
            if let d = ch.wholeNumberValue, ch.isASCII {
                number = number * 10 + d
                digits += 1
                guard number < 10_000_000 else { return nil }
                continue
            }
            guard digits > 0 else { return nil }
            switch ch {
            case "s": total += number
            case "m": total += number * 60
            case "h": total += number * 3600
            case "d": total += number * 86400
            default: return nil
            }
            number = 0
            digits = 0
            sawUnit = true
        }
        guard digits == 0, sawUnit, total > 0 else { return nil }
        return total
    }

    func run() async throws {
        let started = ContinuousClock.now
        let (configuration, cat) = try loadOrExit(catalog)
        let compiled = try compileOrExit(catalog, cat)
        let language = languageOption.language(configuration)
        guard let program = kubectl ?? TriageKubectl.which("kubectl"),
            FileManager.default.isExecutableFile(atPath: program)
        else {
            FileHandle.standardError.write(Data("casewatch: Failed to find kubectl: \(kubectl ?? "kubectl") is not an executable program (--kubectl PATH)\n".utf8))
            throw ExitCode(2)
        }
        let collector = TriageCollector(
            kubectl: TriageKubectl(
                executable: program, kubeconfig: kubeconfig, context: context, cacheDir: kubectlCacheDir,
                requestTimeout: max(1, callTimeout - 1)),
            namespaces: namespaces, sinceSeconds: Self.seconds(since)!, logCap: limitBytes, callTimeout: callTimeout,
            deadline: started + .milliseconds(Int(timeout * 1000)), concurrency: concurrency,
            helm: TriageKubectl.which("helm"))
        let now = Date().timeIntervalSince1970
        let snap = await collector.collect(now: now)

        if !snap.reachable && snap.podsListed == 0 {
            let why = snap.unreachableMessage ?? snap.problems.first?.message ?? "no answer"
            FileHandle.standardError.write(Data((language == .zh
                ? "casewatch: 无法连接 Kubernetes 集群：\(why)\n"
                : "casewatch: Failed to reach the Kubernetes cluster: \(why)\n").utf8))
            throw ExitCode(2)
        }
        if let outputDir { try write(snap.files, to: outputDir) }

        let pipeline = try Pipeline(
            compiled: compiled,
            options: .init(
                book: .init(
                    dedup: configuration.dedup.enabled, window: configuration.dedup.window, remind: configuration.dedup.remind,
                    caseWindows: CatalogSetup.pipelineOptions(configuration).book.caseWindows),
                contextBefore: 0))
        var alerts: [Alert] = []
        var counts: [String: Int] = [:]
        var matchErrors: [String] = []
        let batch = RecordBatch(capacity: 1 << 20)
        for file in snap.files {
            batch.removeAll()
            let text = file.text
            var bytes = Array(text.utf8)
            bytes.withUnsafeMutableBytes { buffer in
                KubectlPrefix.split(
                    UnsafeRawBufferPointer(buffer), into: batch, base: Origin(kind: .kubectl, name: file.name), firstLine: 1,
                    time: now, truncatedAt: nil)
            }
            try pipeline.process(batch, failed: { matchErrors.append("\($0)") }) { alert in
                if alert.state == .firing && alert.sequence == 1 { alerts.append(alert) }
                counts[alert.alertID] = max(counts[alert.alertID] ?? 0, alert.count)
            }
        }
        pipeline.finish { counts[$0.alertID] = max(counts[$0.alertID] ?? 0, $0.count) }
        for m in matchErrors { FileHandle.standardError.write(Data("casewatch: \(m)\n".utf8)) }

        let report = TriageReport(
            snapshot: snap, alerts: alerts, counts: counts, catalog: compiled.catalog, namespaces: namespaces,
            context: context, outputDir: outputDir)
        let output = BufferedOutput()
        output.write(format == .json ? report.json() : report.text(language: language))
        output.flush()
        if !matchErrors.isEmpty { throw ExitCode(2) }
        if report.findings.isEmpty { throw ExitCode(1) }
    }

    /// One file per pod and kind; the directory is created, files of an earlier run replaced.
    private func write(_ files: [TriageCollector.File], to dir: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for f in files {
                try Data(f.text.utf8).write(to: URL(fileURLWithPath: dir).appendingPathComponent(f.name))
            }
        } catch {
            FileHandle.standardError.write(Data("casewatch: Failed to write to \(dir): \(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
    }
}
