import Alerting
import ArgumentParser
import CaseCatalog
import CaseMatcher
import Daemon
import Foundation
import LogSources

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan log files or standard input once and print an alert for every case found.",
        discussion: """
            Files may be plain or gzip-compressed; `-` (or no file) reads standard input, so the
            output of a running installer can be piped in:

                ./scripts/setup_bkce7.sh -i base ... 2>&1 | casewatch scan -

            Lines in the form of `kubectl logs --prefix` ([pod/NAME/CONTAINER] ..., with or
            without --timestamps) carry their pod and container, so pod scopes apply:

                kubectl logs -n blueking -l app=X --all-containers --prefix | casewatch scan --origin namespace=blueking -

            Repeats of a case in the same place are one alert: it is printed at its first hit, and
            at the end of the input its final count. --no-dedup prints every hit.
            """)

    @OptionGroup var catalog: CatalogOptions
    @OptionGroup var languageOption: LanguageOption

    @Option(help: "Output format: text or json (one JSON object per line).")
    var format: AlertFormatter.Format = .text

    @Option(help: ArgumentHelp("Lines longer than this many bytes are matched on their first BYTES only.", valueName: "BYTES"))
    var maxLineLength = ChunkedLineReader.defaultMaxLineLength

    @Option(name: .customLong("origin"), help: ArgumentHelp(
        "Where the input comes from, for scopes and alerts: namespace, pod, container, unit, node, host (repeatable).",
        valueName: "KEY=VALUE"))
    var origins: [String] = []

    @Flag(help: "Print every hit as its own alert (no deduplication).")
    var noDedup = false

    @Option(help: ArgumentHelp("Lines of context quoted before the evidence (default: the configuration's context.before, else 3).", valueName: "N"))
    var context: Int?

    @Option(help: ArgumentHelp("Match a large saved file on this many cores (default: all).", valueName: "N"))
    var jobs: Int?

    @Flag(help: "Print only the number of alerts per case.")
    var count = false

    @Flag(help: "Print to standard error what was read, matched and raised, and how long it took.")
    var stats = false

    @Argument(help: "Log files to scan; `-` is standard input.")
    var files: [String] = []

    func validate() throws {
        if maxLineLength < 1 {
            throw ValidationError("--max-line-length must be at least 1 byte, got \(maxLineLength)")
        }
        if let context, context < 0 { throw ValidationError("--context must not be negative, got \(context)") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
        for o in origins {
            let parts = o.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty, Origin.fieldNames.contains(parts[0]) else {
                throw ValidationError("--origin '\(o)': expected KEY=VALUE with KEY one of \(Origin.fieldNames.joined(separator: ", "))")
            }
        }
    }

    func run() throws {
        let started = ContinuousClock.now
        let (configuration, cat) = try loadOrExit(catalog)
        let compiled = try compileOrExit(catalog, cat)
        let ready = ContinuousClock.now
        let pipeline = try Pipeline(
            compiled: compiled,
            options: .init(
                book: .init(
                    dedup: !noDedup && configuration.dedup.enabled, window: configuration.dedup.window,
                    remind: configuration.dedup.remind, caseWindows: CatalogSetup.pipelineOptions(configuration).book.caseWindows),
                contextBefore: context ?? configuration.context.before))
        let formatter = AlertFormatter(
            format: format, language: languageOption.language(configuration),
            color: format == .text && isatty(1) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
        let output = BufferedOutput()
        var alerts = 0
        var perCase: [String: Int] = [:]
        var failed = false
        var bytes = 0, lines = 0
        var updates: [Alert] = []

        func emit(_ alert: Alert) {
            guard alert.state == .firing else { return }  // the input ends, not the incident
            if alert.sequence == 1 {
                alerts += 1
                perCase[alert.caseID, default: 0] += 1
            }
            if !count { output.write(formatter.render(alert) + (format == .text && alert.sequence == 1 ? "\n" : "")) }
        }
        func failure(_ error: MatchError) {
            output.flush()
            FileHandle.standardError.write(Data("casewatch: \(error)\n".utf8))
            failed = true
        }

        let batch = RecordBatch()
        let jobs = jobs ?? ProcessInfo.processInfo.activeProcessorCount
        var parallel: ParallelScan?
        for path in files.isEmpty ? ["-"] : files {
            var base = Origin(kind: path == "-" ? .stdin : .file, name: path, file: path == "-" ? nil : path)
            for o in origins {
                let parts = o.split(separator: "=", maxSplits: 1).map(String.init)
                base.set(parts[0], parts[1])
            }
            do {
                // A large plain file: mapped, matched on every core, correlated in order.
                if jobs > 1, path != "-", let file = try MappedFile(path: path, minimumSize: 4 << 20),
                    !KubectlPrefix.present(UnsafeRawBufferPointer(file.bytes))
                {
                    if parallel == nil { parallel = try ParallelScan(pipeline: pipeline, jobs: jobs, lineCap: maxLineLength) }
                    let n = try parallel!.scan(file, origin: base, time: Date().timeIntervalSince1970, failed: failure, emit: emit)
                    bytes += file.bytes.count
                    lines += n
                    continue
                }
                var reader = try ChunkedLineReader(path: path, maxLineLength: maxLineLength)
                var inputLines = 0
                defer { lines += inputLines }
                try reader.forEachChunk { chunk in
                    if stats {
                        bytes += chunk.bytes.count
                        inputLines = chunk.firstLine - 1 + countNewlines(UnsafeRawBufferPointer(chunk.bytes))
                        if let last = chunk.bytes.last, last != 0x0A { inputLines += 1 }
                    }
                    let now = Date().timeIntervalSince1970
                    batch.removeAll()
                    let truncatedAt = chunk.truncated ? chunk.bytes.count : nil
                    if !KubectlPrefix.present(UnsafeRawBufferPointer(chunk.bytes)) {
                        batch.borrow(chunk.bytes, origin: base, firstLine: chunk.firstLine, time: now, truncatedAt: truncatedAt, end: .none)
                    } else {
                        KubectlPrefix.split(UnsafeRawBufferPointer(chunk.bytes), into: batch, base: base, firstLine: chunk.firstLine, time: now, truncatedAt: truncatedAt)
                    }
                    try pipeline.process(batch, failed: failure, emit: emit)
                    // Streaming input: show what was found as soon as it is found.
                    if path == "-" { output.flush() }
                }
            } catch let error as MatchError {
                failure(error)
            } catch {
                output.flush()
                FileHandle.standardError.write(Data("casewatch: \(error)\n".utf8))
                failed = true
            }
        }
        pipeline.finish { updates.append($0) }
        if !count && !updates.isEmpty {
            if format == .text {
                output.write(languageOption.language(configuration) == .zh ? "== 重复出现的告警\n" : "== Alerts that repeated\n")
            }
            for alert in updates { output.write(formatter.render(alert)) }
        }
        if count {
            for (id, n) in perCase.sorted(by: { $0.key < $1.key }) { output.write("\(n)\t\(id)\n") }
        }
        output.flush()
        if stats {
            func seconds(_ d: Duration) -> Double {
                Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            }
            let s = pipeline.stats
            let report = [
                "patterns: \(compiled.patterns.count) (\(compiled.loadedFromCache ? "database from cache" : "database compiled"))",
                "bytes: \(bytes)", "lines: \(lines)", "matched_lines: \(s.matchedLines)",
                "raw_hits: \(s.rawHits)", "symptom_hits: \(s.symptomHits)", "cases: \(s.cases)", "alerts: \(alerts)",
                "match_errors: \(s.matchErrors)",
                "seconds_total: \(seconds(ContinuousClock.now - started))",
                "seconds_scanning: \(seconds(ContinuousClock.now - ready))",
            ]
            FileHandle.standardError.write(Data((report.joined(separator: "\n") + "\n").utf8))
        }
        if failed { throw ExitCode(2) }
        if alerts == 0 { throw ExitCode(1) }
    }
}

/// Standard output through one buffer, written with write(2).
final class BufferedOutput {
    private var buffer: [UInt8] = []

    func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count > 64 * 1024 { flush() }
    }

    func flush() {
        var offset = 0
        while offset < buffer.count {
            let n = buffer[offset...].withUnsafeBytes { Foundation.write(1, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
