import CaseCatalog
import CaseMatcher
import Dispatch
import Foundation
import LogSources

/// One large saved file on every core: its line-aligned blocks are matched in parallel, each
/// task with its own matcher (scratch), and correlated in input order by the pipeline, so the
/// alerts are the same as with one core.
public final class ParallelScan {
    public let pipeline: Pipeline
    private let matchers: [RecordMatcher]
    private let batches: [RecordBatch]
    public let blockSize: Int

    /// `jobs` matching tasks (at least 1), lines cut at `lineCap` bytes.
    public init(pipeline: Pipeline, jobs: Int, lineCap: Int, blockSize: Int = 4 << 20) throws {
        self.pipeline = pipeline
        self.blockSize = blockSize
        let jobs = max(jobs, 1)
        matchers = try (0..<jobs).map { _ in
            let m = try RecordMatcher(compiled: pipeline.compiled)
            m.lineCap = lineCap
            return m
        }
        batches = (0..<jobs).map { _ in RecordBatch(capacity: 64) }
    }

    /// Scans the mapped file; returns its number of lines.
    public func scan(
        _ file: MappedFile, origin: Origin, time: Double, failed: (MatchError) throws -> Void,
        emit: (Alert) throws -> Void
    ) throws -> Int {
        let blocks = file.blocks(of: blockSize)
        var lines = 0
        var next = 0
        while next < blocks.count {
            let round = Array(blocks[next..<min(next + matchers.count, blocks.count)])
            for (i, r) in round.enumerated() {
                batches[i].removeAll()
                batches[i].borrow(
                    UnsafeMutableRawBufferPointer(rebasing: file.bytes[r]), origin: origin, firstLine: 1, time: time,
                    end: .file(device: 0, inode: 0, offset: UInt64(r.upperBound)))
            }
            let results = UnsafeMutablePointer<Result<Pipeline.MatchedBatch, Error>?>.allocate(capacity: round.count)
            results.initialize(repeating: nil, count: round.count)
            defer {
                results.deinitialize(count: round.count)
                results.deallocate()
            }
            let work = Work(matchers: matchers, batches: batches, results: results)
            DispatchQueue.concurrentPerform(iterations: round.count) { i in work.run(i) }
            for i in round.indices {
                let matched = try results[i]!.get()
                try pipeline.correlate(matched, lineOffset: lines, failed: failed, emit: emit)
                lines += matched.newlines
            }
            next += round.count
        }
        if let last = file.bytes.last, last != 0x0A { lines += 1 }
        return lines
    }

    /// What each task runs: its own matcher on its own batch, writing its own result slot.
    private struct Work: @unchecked Sendable {
        let matchers: [RecordMatcher]
        let batches: [RecordBatch]
        let results: UnsafeMutablePointer<Result<Pipeline.MatchedBatch, Error>?>

        func run(_ i: Int) {
            results[i] = Result { try Pipeline.match(batches[i], with: matchers[i]) }
        }
    }
}
