import Foundation
import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// How casewatch runs the operator's `kubectl`: the binary, the kubeconfig and context, and a
/// cache directory of its own, so RBAC, proxies, exec credential plugins and contexts behave as
/// they do by hand, and nothing depends on `$HOME/.kube`.
public struct Kubectl: Sendable, Hashable {
    /// The binary: a path, or a name looked up in `PATH`.
    public var executable: String
    /// `--kubeconfig`; nil leaves kubectl's own default (`$KUBECONFIG`, `~/.kube/config`).
    public var kubeconfig: String?
    /// `--context`; nil: the kubeconfig's current context.
    public var context: String?
    /// `--cache-dir` (discovery and HTTP caches); nil: kubectl's default under `$HOME`.
    public var cacheDirectory: String?
    /// `--request-timeout` of one-shot requests, seconds (streams run without one).
    public var requestTimeout: Double

    /// The kubeconfig a unit uses when the configuration names none and the file exists.
    public static let systemKubeconfig = "/etc/casewatch/kubeconfig"

    public init(executable: String = "kubectl", kubeconfig: String? = nil, context: String? = nil, cacheDirectory: String? = nil, requestTimeout: Double = 30) {
        self.executable = executable
        self.kubeconfig = kubeconfig
        self.context = context
        self.cacheDirectory = cacheDirectory
        self.requestTimeout = requestTimeout
    }

    /// The global flags, then `arguments`. `timeout` nil: no `--request-timeout` (a stream).
    public func arguments(_ arguments: [String], requestTimeout timeout: Double?) -> [String] {
        var out: [String] = []
        if let kubeconfig { out.append("--kubeconfig=\(kubeconfig)") }
        if let context { out.append("--context=\(context)") }
        if let cacheDirectory { out.append("--cache-dir=\(cacheDirectory)") }
        if let timeout { out.append("--request-timeout=\(Self.duration(timeout))") }
        return out + arguments
    }

    static func duration(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(Int((seconds * 1000).rounded()))ms"
    }

    /// The binary's path: `executable` itself when it holds a `/`, else the first match in `PATH`.
    public func resolvedExecutable(path: String? = ProcessInfo.processInfo.environment["PATH"]) throws(KubectlError) -> String {
        if executable.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                throw KubectlError(.notFound, "kubectl is not an executable file: \(executable)")
            }
            return executable
        }
        for dir in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw KubectlError(.notFound, "\(executable) was not found in PATH")
    }

    /// What a finished kubectl left.
    public struct Output: Sendable {
        /// The exit status, or 128 + the signal that ended it.
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        /// Standard output was longer than the cap: the rest was read and dropped.
        public var truncated: Bool
        /// The run was stopped at its deadline.
        public var timedOut: Bool

        public var succeeded: Bool { status == 0 && !timedOut }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// Runs `kubectl <global flags> arguments` to its end, keeping at most `byteLimit` bytes of
    /// its output (and 64 KiB of its errors), killing it after `timeout` seconds.
    public func run(_ arguments: [String], byteLimit: Int = 64 << 20, timeout: Double? = nil) async throws -> Output {
        let deadline = timeout ?? requestTimeout + 5
        final class Collected: @unchecked Sendable {
            var stdout: [UInt8] = []
            var truncated = false
        }
        let collected = Collected()
        let output = try await stream(arguments, requestTimeout: requestTimeout, timeout: deadline) { chunk in
            var stdout = collected.stdout
            var truncated = collected.truncated
            defer {
                collected.stdout = stdout
                collected.truncated = truncated
            }
            let room = byteLimit - stdout.count
            if chunk.count > room {
                truncated = true
                if room > 0 { stdout.append(contentsOf: chunk.prefix(room)) }
            } else {
                stdout.append(contentsOf: chunk)
            }
        }
        return Output(status: output.status, stdout: collected.stdout, stderr: output.stderr, truncated: collected.truncated, timedOut: output.timedOut)
    }

    /// Runs `kubectl <global flags> arguments`, handing each piece of its standard output to
    /// `onOutput` as it arrives (pieces are not aligned on lines), until it exits, `timeout`
    /// passes, or the task is cancelled (then kubectl is sent SIGTERM, and SIGKILL after 0.5 s).
    /// Standard error is kept up to 64 KiB and returned; `Output.stdout` is empty.
    public func stream(
        _ arguments: [String], requestTimeout: Double? = nil, timeout: Double? = nil,
        onStart: (@Sendable (Int32) -> Void)? = nil,
        onOutput: @escaping ([UInt8]) async throws -> Void
    ) async throws -> Output {
        let binary = try resolvedExecutable()
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .milliseconds(500))]
        let args = self.arguments(arguments, requestTimeout: requestTimeout)
        let box = RunBox()
        let consumer = UncheckedConsumer(onOutput)
        let result = try await Subprocess.run(
            .path(FilePath(binary)), arguments: Arguments(args), environment: .inherit, platformOptions: options,
            input: .none, output: .sequence, error: .sequence
        ) { execution in
            onStart?(execution.processIdentifier.value)
            try await Self.supervise(execution, timeout: timeout, box: box) {
                for try await buffer in execution.standardOutput {
                    let bytes = buffer.withUnsafeBytes { [UInt8]($0) }
                    try await consumer.body(bytes)
                }
            }
        }
        return Output(status: Self.status(result.terminationStatus), stdout: [], stderr: box.stderr, truncated: false, timedOut: box.timedOut)
    }

    /// Keeps kubectl's standard error (64 KiB) and kills it at `timeout`, while `readOutput`
    /// reads its standard output; returns once both are read to their end.
    private static func supervise<Input: InputProtocol, Out: OutputProtocol>(
        _ execution: Execution<Input, Out, SequenceOutput>, timeout: Double?, box: RunBox,
        readOutput: @escaping @Sendable () async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await readOutput()
                return true
            }
            group.addTask {
                for try await buffer in execution.standardError {
                    buffer.withUnsafeBytes { bytes in
                        let room = 64 * 1024 - box.stderr.count
                        if room > 0 { box.stderr.append(contentsOf: bytes.prefix(room)) }
                    }
                }
                return true
            }
            if let timeout {
                group.addTask {
                    // true: cancelled because kubectl ended first; false: the deadline.
                    try? await Task.sleep(for: .milliseconds(Int64(timeout * 1000)))
                    return Task.isCancelled
                }
            }
            var finished = 0
            while let done = try await group.next() {
                if !done {
                    box.timedOut = true
                    try? execution.send(signal: .kill)
                    continue
                }
                finished += 1
                if finished == 2 { group.cancelAll() }
            }
        }
    }

    /// The exit status, or 128 + the signal that ended it.
    private static func status(_ termination: TerminationStatus) -> Int32 {
        switch termination {
        case .exited(let code): Int32(code)
        case .signaled(let signal): 128 + Int32(signal)
        }
    }
}

extension Kubectl {
    /// As `stream`, but kubectl writes its standard output to `standardOutput` (the write end of
    /// a pipe the caller reads on a thread of its own; closed here once kubectl started), and
    /// `untilRead` (the caller's read of that pipe to its end) is awaited before returning, so
    /// nothing kubectl printed is still unread when this returns.
    public func stream(
        _ arguments: [String], requestTimeout: Double? = nil, timeout: Double? = nil,
        standardOutput: Int32, untilRead: @escaping @Sendable () async -> Void
    ) async throws -> Output {
        let binary: String
        do {
            binary = try resolvedExecutable()
        } catch {
            close(standardOutput)
            throw error
        }
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .milliseconds(500))]
        let args = self.arguments(arguments, requestTimeout: requestTimeout)
        let box = RunBox()
        let result = try await Subprocess.run(
            .path(FilePath(binary)), arguments: Arguments(args), environment: .inherit, platformOptions: options,
            input: .none, output: .fileDescriptor(FileDescriptor(rawValue: standardOutput), closeAfterSpawningProcess: true), error: .sequence
        ) { execution in
            try await Self.supervise(execution, timeout: timeout, box: box) { await untilRead() }
        }
        return Output(status: Self.status(result.terminationStatus), stdout: [], stderr: box.stderr, truncated: false, timedOut: box.timedOut)
    }
}

/// What a run of kubectl collects beside its standard output (one writer task each field).
private final class RunBox: @unchecked Sendable {
    var stderr: [UInt8] = []
    var timedOut = false
}

/// The output callback runs on one task at a time (the standard output reader).
private final class UncheckedConsumer: @unchecked Sendable {
    let body: ([UInt8]) async throws -> Void
    init(_ body: @escaping ([UInt8]) async throws -> Void) { self.body = body }
}

/// kubectl could not be run.
public struct KubectlError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable { case notFound, failed }
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension Kubectl.Output {
    /// An outcome built by another transport (`kubectl proxy`): `stderr` holds the text kubectl
    /// would have printed, so `KubectlFailure` reads it the same.
    public init(status: Int32, body: [UInt8] = [], stderr: String, timedOut: Bool = false) {
        self.init(status: status, stdout: body, stderr: Array(stderr.utf8), truncated: false, timedOut: timedOut)
    }
}
