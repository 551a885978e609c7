import Foundation
import LogSources

/// Runs the operator's real `kubectl` (or `helm`) once, with the kubeconfig and context triage was
/// given, a time limit and a cap on what it keeps of the output.
///
/// The calls go through the Kubernetes source's `Kubectl` (LogSources): same binary, same global
/// flags, the same byte cap and deadline; this adds what triage reports of a failed call.
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

    /// `kubectl ARGS`, through the Kubernetes source's runner (LogSources `Kubectl`).
    func run(_ arguments: [String], timeout: Double, cap: Int) async -> Result {
        let k = Kubectl(executable: executable, kubeconfig: kubeconfig, context: context, cacheDirectory: cacheDir, requestTimeout: requestTimeout)
        do {
            let o = try await k.run(arguments, byteLimit: cap, timeout: timeout)
            return Result(status: o.status, stdout: Data(o.stdout), stderr: o.stderrText, timedOut: o.timedOut, truncated: o.truncated)
        } catch {
            return Result(status: 127, stdout: Data(), stderr: "Failed to run \(executable): \(error)", timedOut: false, truncated: false)
        }
    }

    /// Another program (helm) with `arguments` as they are: no kubectl flags added.
    static func run(_ executable: String, _ arguments: [String], timeout: Double, cap: Int) async -> Result {
        final class Collected: @unchecked Sendable {
            var bytes: [UInt8] = []
            var truncated = false
        }
        let collected = Collected()
        do {
            let o = try await Kubectl(executable: executable).stream(arguments, requestTimeout: nil, timeout: timeout) { chunk in
                let room = cap - collected.bytes.count
                if chunk.count > room {
                    collected.truncated = true
                    if room > 0 { collected.bytes.append(contentsOf: chunk.prefix(room)) }
                } else {
                    collected.bytes.append(contentsOf: chunk)
                }
            }
            return Result(status: o.status, stdout: Data(collected.bytes), stderr: o.stderrText, timedOut: o.timedOut, truncated: collected.truncated)
        } catch {
            return Result(status: 127, stdout: Data(), stderr: "Failed to run \(executable): \(error)", timedOut: false, truncated: false)
        }
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
