import Foundation
import TestSupport
import Testing

@testable import LogSources

/// Reads a file back as (line number, line, truncated) through the chunked reader; with
/// `readSizes`, in reads of those sizes in turn.
private func readLines(
    _ path: String, chunkSize: Int = 64, maxLineLength: Int = 1024, readSizes: [Int] = []
) throws -> [(Int, String, Bool)] {
    var reader = try ChunkedLineReader(path: path, chunkSize: chunkSize, maxLineLength: maxLineLength)
    reader.readSizes = readSizes
    var lines: [(Int, String, Bool)] = []
    try reader.forEachChunk { chunk in
        var text = String(decoding: UnsafeRawBufferPointer(chunk.bytes), as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            lines.append((chunk.firstLine + i, String(line), chunk.truncated))
        }
    }
    return lines
}

@Suite final class ChunkedLineReaderTests {
    /// One directory per test (Swift Testing makes a suite instance per test), removed after it.
    let dir = Paths.temporaryDirectory()

    deinit { try? FileManager.default.removeItem(at: dir) }

    private func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func linesAndNumbersSurviveChunkBoundaries() throws {
        let text = (1...500).map { "line \($0) " + String(repeating: "x", count: $0 % 37) }.joined(separator: "\n") + "\n"
        let lines = try readLines(write("plain.log", Array(text.utf8)), chunkSize: 100)
        #expect(lines.count == 500)
        #expect(lines.allSatisfy { n, line, _ in line.hasPrefix("line \(n) ") })
    }

    @Test func lastLineWithoutNewlineIsRead() throws {
        let lines = try readLines(write("tail.log", Array("a\nb\nlast".utf8)))
        #expect(lines.map(\.1) == ["a", "b", "last"])
    }

    @Test func emptyFileHasNoLines() throws {
        #expect(try readLines(write("empty.log", [])).isEmpty)
    }

    @Test func gzipIsDecompressedWhateverTheName() throws {
        let text = (1...2000).map { "gz line \($0)" }.joined(separator: "\n") + "\n"
        let plain = try write("data.log", Array(text.utf8))
        let gz = Process()
        gz.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gz.arguments = ["-k", plain]
        try gz.run()
        gz.waitUntilExit()
        let lines = try readLines(plain + ".gz")
        #expect(lines.count == 2000)
        #expect(lines.last?.1 == "gz line 2000")
    }

    @Test func longLineIsCutAndTheRestOfTheInputIsKept() throws {
        // A 4 MB line between two normal lines, read with a 1 MiB cap.
        let long = Array("START ".utf8) + [UInt8](repeating: UInt8(ascii: "y"), count: 4 * 1024 * 1024) + Array(" END".utf8)
        let bytes = Array("before\n".utf8) + long + Array("\nafter 1\nafter 2\n".utf8)
        let lines = try readLines(write("long.log", bytes), chunkSize: 64 * 1024, maxLineLength: 1024 * 1024)
        #expect(lines.map(\.0) == [1, 2, 3, 4])
        #expect(lines[0].1 == "before")
        #expect(lines[1].2, "the long line is marked truncated")
        #expect(lines[1].1.hasPrefix("START ") && lines[1].1.utf8.count == 1024 * 1024)
        #expect(lines[2].1 == "after 1" && lines[3].1 == "after 2")
    }

    @Test func longLastLineWithoutNewline() throws {
        let bytes = Array("first\n".utf8) + [UInt8](repeating: 0x41, count: 5000)
        let lines = try readLines(write("longtail.log", bytes), chunkSize: 256, maxLineLength: 1000)
        #expect(lines.map(\.0) == [1, 2])
        #expect(lines[1].1.count == 1000 && lines[1].2)
    }

    /// The rule, whatever the reads: a line longer than the cap is cut to exactly the cap and
    /// marked; any other line arrives whole. Random line lengths around the cap, read in one
    /// piece and in random pieces, against the rule itself.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as [UInt64])
    func longLinesAreCutTheSameWhateverTheReadBoundaries(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let cap = Int.random(in: 1...40, using: &rng)
        let lines: [String] = (0..<300).map { _ in
            let length = Int.random(in: 0..<4, using: &rng) == 0
                ? Int.random(in: 0...cap * 3, using: &rng) : max(0, cap + Int.random(in: -2...2, using: &rng))
            return String((0..<length).map { _ in "abcdefgh".randomElement(using: &rng)! })
        }
        // Without a final newline the last line ends at the end of the input; keep it non-empty.
        let finalNewline = Bool.random(using: &rng) || lines.last!.isEmpty
        let path = try write("cap-\(seed).log", Array((lines.joined(separator: "\n") + (finalNewline ? "\n" : "")).utf8))
        let expected = lines.enumerated().map { i, line in
            "\(i + 1) \(line.count > cap) \(line.prefix(cap))"
        }
        func described(_ read: [(Int, String, Bool)]) -> [String] { read.map { "\($0.0) \($0.2) \($0.1)" } }

        let inOnePiece = try readLines(path, chunkSize: 1 << 20, maxLineLength: cap)
        #expect(described(inOnePiece) == expected)
        let sizes = (0..<64).map { _ in Int.random(in: 1...cap * 3, using: &rng) }
        let inPieces = try readLines(path, chunkSize: Int.random(in: 1...cap * 3, using: &rng), maxLineLength: cap, readSizes: sizes)
        #expect(described(inPieces) == expected)
    }

    /// Regression: a line of exactly the cap whose newline came in the next read through a
    /// pipe was cut (and its case missed); read in one piece, the same line came whole.
    @Test func aLineOfTheCapSplitAcrossTwoPipeReadsIsNotCut() throws {
        let line = "START " + String(repeating: "y", count: 994)  // 1000 bytes, the cap
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let writer = fds[1]
        DispatchQueue.global().async {
            _ = line.utf8CString.withUnsafeBytes { Glibc.write(writer, $0.baseAddress, 1000) }
            // The reader must have taken the first piece alone before the rest comes.
            var unread: Int32 = 1
            while unread > 0 && ioctl(writer, UInt(FIONREAD), &unread) == 0 { usleep(1000) }
            _ = "\nafter\n".withCString { Glibc.write(writer, $0, 7) }
            close(writer)
        }
        let lines = try readLines("/dev/fd/\(fds[0])", chunkSize: 64 * 1024, maxLineLength: 1000)
        #expect(lines.map(\.0) == [1, 2])
        #expect(lines.first?.1 == line)
        #expect(lines.first?.2 == false, "a line of exactly the cap is not cut")
        #expect(lines.last?.1 == "after")
    }

    @Test(arguments: [
        (64, 0, "max line length must be at least 1 byte, got 0"),
        (64, -5, "max line length must be at least 1 byte, got -5"),
        (0, 1024, "chunk size must be at least 1 byte, got 0"),
        (-1, 1024, "chunk size must be at least 1 byte, got -1"),
    ])
    func sizesBelowOneByteAreRefused(chunkSize: Int, maxLineLength: Int, message: String) {
        let error = #expect(throws: LogSourceError.self) {
            _ = try ChunkedLineReader(path: "/nonexistent/x.log", chunkSize: chunkSize, maxLineLength: maxLineLength)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == message)
    }

    @Test func missingFileNamesThePath() {
        do {
            _ = try ChunkedLineReader(path: "/nonexistent/casewatch.log")
            Issue.record("opened a missing file")
        } catch {
            #expect(error.description.contains("/nonexistent/casewatch.log"))
            #expect(error.description.contains("No such file"))
        }
    }

    @Test func newlineCounting() {
        let bytes = (0..<10_000).map { UInt8($0 % 7 == 0 ? 0x0A : 0x61) }
        let expected = bytes.filter { $0 == 0x0A }.count
        bytes.withUnsafeBytes { #expect(countNewlines($0) == expected) }
    }
}
