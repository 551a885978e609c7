// The matcher's benchmarks (package-benchmark). Inputs come from scripts/bench/make_inputs.py:
//
//   python3 scripts/bench/make_inputs.py
//   CASEWATCH_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark --target Matcher
//
// Each scan benchmark is one end-to-end pass over corpus-100k.log (100,000 real log lines,
// 22.7 MB): read, split, sanitize, one Hyperscan pass a chunk, PCRE2 on the hits, correlation.
// Lines/s = 100,000 / time per pass; bytes/s = 22.7 MB / time per pass.

import Alerting
import Benchmark
import CaseCatalog
import CaseMatcher
import Foundation
import LogSources

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let bench = root.appendingPathComponent(".build/bench")
let corpus = bench.appendingPathComponent("corpus-100k.log").path

func loadCatalog(_ dir: String) -> Catalog {
    do { return try Catalog.load(directories: [dir]) } catch { fatalError("\(error)") }
}

func compile(_ catalog: Catalog, cache: String? = nil) -> CompiledCatalog {
    do { return try CompiledCatalog(catalog: catalog, cacheDirectory: cache) } catch { fatalError("\(error)") }
}

/// One end-to-end pass over the corpus through the record pipeline (matcher, correlator,
/// alert book with dedup); returns the number of notifications.
func scanCorpus(_ compiled: CompiledCatalog) throws -> Int {
    let pipeline = try Pipeline(compiled: compiled)
    var reader = try ChunkedLineReader(path: corpus)
    let origin = Origin(kind: .file, name: corpus, file: corpus)
    let batch = RecordBatch()
    var alerts = 0
    try reader.forEachChunk { chunk in
        batch.removeAll()
        batch.borrow(chunk.bytes, origin: origin, firstLine: chunk.firstLine, time: 0, end: .none)
        try pipeline.process(batch) { _ in alerts += 1 }
    }
    return alerts
}

/// Journald-sized records (~120 bytes: the corpus lines cut or padded), as the journal source
/// hands them over: one origin per unit, a cursor per entry.
func journalRecords(_ compiled: CompiledCatalog, count: Int, quiet: Bool) -> [(line: [UInt8], origin: Origin)] {
    let scratch = try! compiled.makeScratch()
    let text = try! Data(contentsOf: URL(fileURLWithPath: corpus))
    let units = ["kubelet.service", "containerd.service", "docker.service", "sshd.service"].map {
        Origin(kind: .journald, name: $0, host: "node-1", unit: $0, identifier: String($0.prefix { $0 != "." }))
    }
    var out: [(line: [UInt8], origin: Origin)] = []
    for line in text.split(separator: 0x0A) where out.count < count {
        var bytes = Array(line.prefix(120))
        while bytes.count < 100 { bytes += Array(" padding".utf8) }
        var hit = false
        bytes.withUnsafeBytes { b in try! scratch.scan(b, onFailure: { _ in }) { _ in hit = true } }
        if hit == quiet { continue }
        out.append((bytes, units[out.count % units.count]))
    }
    return out
}

/// Feeds records through the pipeline `perBatch` at a time.
func feed(_ pipeline: Pipeline, _ batch: RecordBatch, _ records: [(line: [UInt8], origin: Origin)], perBatch: Int) -> Int {
    var alerts = 0
    var i = 0
    while i < records.count {
        batch.removeAll()
        for r in records[i..<min(i + perBatch, records.count)] {
            r.line.withUnsafeBytes { batch.append($0, origin: r.origin, firstLine: 0, time: 1_000_000, end: .none) }
        }
        try! pipeline.process(batch) { _ in alerts += 1 }
        i += perBatch
    }
    return alerts
}

/// Corpus lines no symptom of `compiled` matches: the no-hit path.
func quietLines(_ compiled: CompiledCatalog, count: Int) -> [UInt8] {
    let scratch = try! compiled.makeScratch()
    var out: [UInt8] = []
    var taken = 0
    let text = try! Data(contentsOf: URL(fileURLWithPath: corpus))
    for line in text.split(separator: 0x0A) where taken < count {
        var hit = false
        Array(line).withUnsafeBytes { b in try! scratch.scan(b, onFailure: { _ in }) { _ in hit = true } }
        if !hit {
            out += line + [0x0A]
            taken += 1
        }
    }
    return out
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        maxDuration: .seconds(10), maxIterations: 30)

    let catalogs: [(String, String)] = [
        ("builtin catalog", root.appendingPathComponent("Patterns").path),
        ("100 patterns", bench.appendingPathComponent("synthetic-100").path),
        ("1000 patterns", bench.appendingPathComponent("synthetic-1000").path),
        ("10000 patterns", bench.appendingPathComponent("synthetic-10000").path),
    ]
    for (name, dir) in catalogs {
        Benchmark("scan corpus-100k, \(name)") { (benchmark: Benchmark, compiled: CompiledCatalog) in
            for _ in benchmark.scaledIterations { blackHole(try scanCorpus(compiled)) }
        } setup: {
            compile(loadCatalog(dir))
        }
    }

    // The no-hit path: 10,000 lines no symptom matches, in memory, one chunk per call.
    // mallocCountTotal must be 0.
    Benchmark("no-hit chunk scan, 10000 lines, 1000 patterns", configuration: .init(metrics: [.wallClock, .mallocCountTotal, .instructions])) { (benchmark: Benchmark, state: (MatchScratch, [UInt8])) in
        let (scratch, lines) = state
        for _ in benchmark.scaledIterations {
            lines.withUnsafeBytes { b in try! scratch.scan(b, onFailure: { _ in fatalError("error") }) { _ in fatalError("hit on a quiet line") } }
        }
    } setup: {
        let compiled = compile(loadCatalog(catalogs[2].1))
        return (try! compiled.makeScratch(), quietLines(compiled, count: 10_000))
    }

    // The same lines scanned one hs_scan call per line: the fixed cost of a call.
    Benchmark("no-hit per-line scan, 10000 lines, 1000 patterns", configuration: .init(metrics: [.wallClock, .mallocCountTotal, .instructions])) { (benchmark: Benchmark, state: (MatchScratch, [UInt8])) in
        let (scratch, lines) = state
        for _ in benchmark.scaledIterations {
            lines.withUnsafeBytes { b in
                var start = 0
                for i in 0..<b.count where b[i] == 0x0A {
                    try! scratch.scan(UnsafeRawBufferPointer(rebasing: b[start..<i]), onFailure: { _ in fatalError("error") }) { _ in fatalError("hit") }
                    start = i + 1
                }
            }
        }
    } setup: {
        let compiled = compile(loadCatalog(catalogs[2].1))
        return (try! compiled.makeScratch(), quietLines(compiled, count: 10_000))
    }

    // The record pipeline (matcher, correlator, alert book with dedup, context rings) on
    // journald-sized records, one per batch (a quiet journal delivers entries one by one) and
    // 1,000 per batch. 10,000 records per iteration: records/s = 10,000 / time. Quiet records
    // must cost 0 mallocs; the "with hits" set is 1 % lines that raise a case (repeats of a few
    // dedup keys, as a storm is).
    let builtin = catalogs[0].1
    for (label, quiet) in [("quiet", true), ("1% hits", false)] {
        for perBatch in [1, 1000] {
            Benchmark(
                "pipeline, 10000 journald records (\(label)), \(perBatch) per batch",
                configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions])
            ) { (benchmark: Benchmark, state: (Pipeline, RecordBatch, [(line: [UInt8], origin: Origin)])) in
                let (pipeline, batch, records) = state
                for _ in benchmark.scaledIterations { blackHole(feed(pipeline, batch, records, perBatch: perBatch)) }
            } setup: {
                let catalog = loadCatalog(builtin)
                let compiled = compile(catalog)
                var records = journalRecords(compiled, count: 10_000, quiet: true)
                if !quiet {
                    // The corpus holds almost no case: take one-line match examples of the
                    // catalog (real kubelet, helm, nginx lines), ten of them, each repeated.
                    let examples = catalog.cases.filter { $0.trigger == nil }
                        .flatMap(\.examples.match).filter { !$0.contains("\n") }.prefix(10)
                    precondition(examples.count == 10)
                    let origin = Origin(kind: .journald, name: "kubelet.service", host: "node-1", unit: "kubelet.service", identifier: "kubelet")
                    for i in 0..<100 { records[i * 100] = (Array(examples[examples.startIndex + i % 10].utf8), origin) }
                }
                let pipeline = try! Pipeline(compiled: compiled)
                let batch = RecordBatch()
                let notifications = feed(pipeline, batch, records, perBatch: perBatch)  // warm: rings, filters, PCRE2 programs
                precondition(quiet == (notifications == 0), "the hits set must raise alerts, the quiet one none")
                return (pipeline, batch, records)
            }
        }
    }

    for size in [1000, 10000] {
        let dir = bench.appendingPathComponent("synthetic-\(size)").path
        Benchmark("load catalog YAML, \(size) patterns", configuration: .init(metrics: [.wallClock], maxIterations: 5)) { benchmark in
            for _ in benchmark.scaledIterations { blackHole(loadCatalog(dir)) }
        }
        Benchmark("compile database, \(size) patterns", configuration: .init(metrics: [.wallClock], maxIterations: 3)) { (benchmark: Benchmark, catalog: Catalog) in
            for _ in benchmark.scaledIterations { blackHole(compile(catalog)) }
        } setup: {
            loadCatalog(dir)
        }
        // A restart with nothing changed: the parsed catalog and the database both from the cache.
        Benchmark("restart from caches, \(size) patterns", configuration: .init(metrics: [.wallClock], maxIterations: 20)) { (benchmark: Benchmark, cache: String) in
            for _ in benchmark.scaledIterations {
                let catalog = try Catalog.load(directories: [dir], cache: CatalogCache(directory: cache))
                let compiled = compile(catalog, cache: cache)
                precondition(compiled.loadedFromCache)
                blackHole(compiled)
            }
        } setup: {
            let cache = NSTemporaryDirectory() + "casewatch-bench-restart-\(size)"
            _ = compile(try! Catalog.load(directories: [dir], cache: CatalogCache(directory: cache)), cache: cache)
            return cache
        }
        Benchmark("load cached database, \(size) patterns", configuration: .init(metrics: [.wallClock], maxIterations: 20)) { (benchmark: Benchmark, state: (Catalog, String)) in
            let (catalog, cache) = state
            for _ in benchmark.scaledIterations {
                let compiled = compile(catalog, cache: cache)
                precondition(compiled.loadedFromCache)
                blackHole(compiled)
            }
        } setup: {
            let catalog = loadCatalog(dir)
            let cache = NSTemporaryDirectory() + "casewatch-bench-cache-\(size)"
            _ = compile(catalog, cache: cache)
            return (catalog, cache)
        }
    }
}
