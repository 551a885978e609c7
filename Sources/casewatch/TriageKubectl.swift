import Dispatch
import Foundation

/// Runs the operator's real `kubectl` (or `helm`) once, with the kubeconfig and context triage was
/// given, a time limit and a cap on what it keeps of the output.
///
/// A small runner of triage's own, kept apart so it can give way to the Kubernetes source's
/// kubectl plumbing when both are merged: same binary, same flags, one process per call.
struct TriageKubectl: Sendable {
    /// The program (`--kubectl`, else `kubectl` on PATH).
    var executable: String
    var kubeconfig: String?
    var context: String?
    /// kubectl's `--cache-dir` (discovery and HTTP cache), when not its default.
    var cacheDir: String?
    /// kubectl's own `--request-timeout`, a little under the per-call limit.
    var requestTimeout: Double

    /// What one call gave.
    struct Result: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: String
        var timedOut: Bool
        /// Standard output went past the cap and was cut there.
        var truncated: Bool

        var ok: Bool { status == 0 && !timedOut }

        /// The first lines of standard error, for the report: kubectl's own message.
        var message: String {
            if timedOut { return "no answer within the time limit" }
            let lines = stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            // kubectl's own message, not the klog lines (`E1130 07:09:10.909202   20328 file.go:265] ...`)
            // it logs on the way.
            let messages = lines.filter { !TriageKubectl.isKlog($0) }
            if !messages.isEmpty { return messages.suffix(3).joined(separator: " ") }
            if let last = lines.last { return last }
            return "exit status \(status)"
        }
    }

    /// A klog line: a severity letter, `MMDD hh:mm:ss.uuuuuu`, the thread id, `file:line]`.
    static func isKlog(_ line: String) -> Bool {
        let b = Array(line.utf8.prefix(21))
        guard b.count == 21, [UInt8(ascii: "I"), UInt8(ascii: "W"), UInt8(ascii: "E"), UInt8(ascii: "F")].contains(b[0]) else { return false }
        let digits = [1, 2, 3, 4, 6, 7, 9, 10, 12, 13]
        return digits.allSatisfy { b[$0] >= 0x30 && b[$0] <= 0x39 } && b[5] == 0x20 && b[8] == UInt8(ascii: ":")
    }

    /// The global flags every call gets.
    var globalArguments: [String] {
        var a: [String] = []
        if let kubeconfig { a += ["--kubeconfig", kubeconfig] }
        if let context { a += ["--context", context] }
        if let cacheDir { a += ["--cache-dir", cacheDir] }
        a += ["--request-timeout", "\(max(1, Int(requestTimeout.rounded(.up))))s"]
        return a
    }

    /// `kubectl ARGS`.
    func run(_ arguments: [String], timeout: Double, cap: Int) async -> Result {
        await Self.run(executable, globalArguments + arguments, timeout: timeout, cap: cap)
    }

    /// Runs `executable` with `arguments` on a thread of its own (the calls block), killing it at
    /// `timeout` seconds; keeps at most `cap` bytes of standard output, 64 KiB of standard error.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Double, cap: Int
    ) async -> Result {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
            Thread.detachNewThread {
                continuation.resume(returning: runBlocking(executable, arguments, environment: environment, timeout: timeout, cap: cap))
            }
        }
    }

    private final class Box: @unchecked Sendable {
        var data = Data()
        var truncated = false
        var timedOut = false
    }

    private static func runBlocking(
        _ executable: String, _ arguments: [String], environment: [String: String]?, timeout: Double, cap: Int
    ) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return Result(status: 127, stdout: Data(), stderr: "Failed to run \(executable): \(error.localizedDescription)", timedOut: false, truncated: false)
        }
        let pid = process.processIdentifier
        let outBox = Box(), errBox = Box()
        let group = DispatchGroup()
        group.enter()
        Thread.detachNewThread {
            drain(err.fileHandleForReading, into: errBox, cap: 64 * 1024)
            group.leave()
        }
        // The time limit: SIGTERM, then SIGKILL a second later if it is still there.
        let killer = DispatchWorkItem {
            guard process.isRunning else { return }
            errBox.timedOut = true
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 1) { if process.isRunning { kill(pid, SIGKILL) } }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + max(timeout, 0.1), execute: killer)
        drain(out.fileHandleForReading, into: outBox, cap: cap)
        group.wait()
        process.waitUntilExit()
        killer.cancel()
        return Result(
            status: process.terminationStatus, stdout: outBox.data, stderr: String(decoding: errBox.data, as: UTF8.self),
            timedOut: errBox.timedOut, truncated: outBox.truncated)
    }

    /// Reads to the end, keeping the first `cap` bytes (the rest is read and dropped, so the
    /// program never blocks on a full pipe).
    private static func drain(_ handle: FileHandle, into box: Box, cap: Int) {
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            let room = cap - box.data.count
            if room >= chunk.count {
                box.data.append(chunk)
            } else {
                if room > 0 { box.data.append(chunk.prefix(room)) }
                box.truncated = true
            }
        }
        try? handle.close()
    }

    /// Where `name` is on PATH, or nil.
    static func which(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
