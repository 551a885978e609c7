import Foundation
import LogSources
import TestSupport
import Testing

/// Reads a file back as (line number, line, truncated) through the chunked reader.
private func readLines(_ path: String, chunkSize: Int = 64, maxLineLength: Int = 1024) throws -> [(Int, String, Bool)] {
    var reader = try ChunkedLineReader(path: path, chunkSize: chunkSize, maxLineLength: maxLineLength)
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

@Suite struct ChunkedLineReaderTests {
    let dir = Paths.temporaryDirectory()

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
