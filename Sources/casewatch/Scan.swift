import Alerting
import ArgumentParser
import CaseCatalog
import CaseMatcher
import Foundation
import LogSources

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan log files or standard input once and print an alert for every case found.",
        discussion: """
            Files may be plain or gzip-compressed; `-` (or no file) reads standard input, so the
            output of a running installer can be piped in:

                ./scripts/setup_bkce7.sh -i base ... 2>&1 | casewatch scan -
            """)

    @OptionGroup var catalog: CatalogOptions
    @OptionGroup var languageOption: LanguageOption

    @Option(help: "Output format: text or json (one JSON object per line).")
    var format: AlertFormatter.Format = .text

    @Option(help: ArgumentHelp("Lines longer than this many bytes are matched on their first BYTES only.", valueName: "BYTES"))
    var maxLineLength = ChunkedLineReader.defaultMaxLineLength

    @Flag(help: "Print only the number of alerts per case.")
    var count = false

    @Flag(help: "Print to standard error what was read, matched and raised, and how long it took.")
    var stats = false

    @Argument(help: "Log files to scan; `-` is standard input.")
    var files: [String] = []

    func run() throws {
        let started = ContinuousClock.now
        let (configuration, cat) = try loadOrExit(catalog)
        let compiled = try compileOrExit(catalog, cat)
        let ready = ContinuousClock.now
        let scanner = try LogScanner(compiled: compiled)
        var bytes = 0, lines = 0
        let formatter = AlertFormatter(
            format: format, language: languageOption.language(configuration),
            color: format == .text && isatty(1) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
        let output = BufferedOutput()
        var alerts = 0
        var perCase: [String: Int] = [:]
        var failed = false
        for path in files.isEmpty ? ["-"] : files {
            do {
                var reader = try ChunkedLineReader(path: path, maxLineLength: maxLineLength)
                let origin = Origin(kind: path == "-" ? .stdin : .file, name: path)
                try reader.forEachChunk { chunk in
                    if stats {
                        bytes += chunk.bytes.count
                        lines = chunk.firstLine - 1 + countNewlines(UnsafeRawBufferPointer(chunk.bytes))
                    }
                    let now = Date().timeIntervalSince1970
                    try scanner.scan(chunk.bytes, firstLine: chunk.firstLine, truncated: chunk.truncated, origin: origin, time: now) { alert in
                        alerts += 1
                        perCase[alert.caseID, default: 0] += 1
                        if !count { output.write(formatter.render(alert) + (format == .text ? "\n" : "")) }
                    }
                    // Streaming input: show what was found as soon as it is found.
                    if path == "-" { output.flush() }
                }
            } catch {
                output.flush()
                FileHandle.standardError.write(Data("casewatch: \(error)\n".utf8))
                failed = true
            }
        }
        if count {
            for (id, n) in perCase.sorted(by: { $0.key < $1.key }) { output.write("\(n)\t\(id)\n") }
        }
        output.flush()
        if stats {
            func seconds(_ d: Duration) -> Double {
                Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            }
            let report = [
                "patterns: \(compiled.patterns.count) (\(compiled.loadedFromCache ? "database from cache" : "database compiled"))",
                "bytes: \(bytes)", "lines: \(lines)", "matched_lines: \(scanner.matchedLines)",
                "raw_hits: \(scanner.rawHits)", "symptom_hits: \(scanner.symptomHits)", "alerts: \(alerts)",
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
