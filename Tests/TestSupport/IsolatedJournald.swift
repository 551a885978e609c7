import Foundation

/// A real systemd-journald of the test's own, in a private mount namespace: it never touches the
/// host's journal, and tests that each start one run in parallel without seeing each other.
///
/// A small holder process (`unshare --mount --propagation private`) owns the namespace: it
/// mounts tmpfs over `/run/systemd` (journald's sockets and its configuration drop-in),
/// `/run/log` (the journal files: `Storage=volatile`) and `/var/log/journal` when the host has
/// one, then waits on its standard input. journald runs inside it (`nsenter --mount`), reports
/// READY=1 to a notify socket in a host path, and can be killed and started again in the same
/// namespace (`restart`) with its files kept. Every other command runs inside with `run` or
/// `spawn`; a thread of the test process can enter it too (`withinNamespace`). The journal files
/// are readable from outside through the holder's root, `journalDirectory`.
///
/// Processes are stopped by their pid only; `stop()` (or deinit) ends journald and the holder.
public final class IsolatedJournald: @unchecked Sendable {
    public static let binary = "/lib/systemd/systemd-journald"

    /// The process that owns the namespace: `nsenter --target holderPID` enters it.
    public let holderPID: pid_t
    /// The namespace's `/` seen from the host.
    public let root: String
    /// The journal files of this journald, seen from the host
    /// (`/proc/<holder>/root/run/log/journal/<machine-id>`): for `sd_journal_open_directory`.
    public let journalDirectory: String
    /// The same directory inside the namespace.
    public let journalDirectoryInside: String

    private let holder: Process
    private let holderInput: Pipe
    private let lock = NSLock()
    private var journald: Process?
    private let scratch: URL

    /// journald's pid now (a restart changes it).
    public var pid: pid_t {
        lock.lock()
        defer { lock.unlock() }
        return journald?.processIdentifier ?? 0
    }

    /// Starts the namespace and journald in it, and returns once journald said READY=1.
    /// `settings` are added to the `[Journal]` section of its configuration (for example
    /// `RuntimeMaxFileSize`); the defaults keep every message (no rate limit, no kernel log,
    /// nothing forwarded).
    public init(settings: [String: String] = [:]) throws {
        scratch = Paths.temporaryDirectory("casewatch-isolated-journald")
        var conf: [String: String] = [
            "Storage": "volatile", "ReadKMsg": "no", "ForwardToSyslog": "no", "ForwardToWall": "no",
            "ForwardToKMsg": "no", "ForwardToConsole": "no", "RateLimitIntervalSec": "0", "RateLimitBurst": "0",
            "RuntimeMaxUse": "1G",
        ]
        conf.merge(settings) { _, new in new }
        let confText = "[Journal]\n" + conf.keys.sorted().map { "\($0)=\(conf[$0]!)" }.joined(separator: "\n") + "\n"
        let confPath = scratch.appendingPathComponent("journald.conf").path
        try confText.write(toFile: confPath, atomically: true, encoding: .utf8)

        // The mount points must exist on the host (empty directories; /run/systemd/journal is
        // there wherever journald ever ran).
        for dir in ["/run/systemd", "/run/log"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let hostVarLog = FileManager.default.fileExists(atPath: "/var/log/journal")
        let script = """
            set -e
            mount -t tmpfs -o mode=0755 tmpfs /run/systemd
            mkdir -p /run/systemd/journal /run/systemd/journald.conf.d
            cp '\(confPath)' /run/systemd/journald.conf.d/zz-casewatch-test.conf
            mount -t tmpfs -o mode=0755 tmpfs /run/log
            mkdir -p /run/log/journal
            \(hostVarLog ? "mount -t tmpfs -o mode=0755 tmpfs /var/log/journal" : "")
            echo ready
            exec cat >/dev/null
            """
        holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        holder.arguments = ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", script]
        holderInput = Pipe()
        let holderOutput = Pipe(), holderError = Pipe()
        holder.standardInput = holderInput
        holder.standardOutput = holderOutput
        holder.standardError = holderError
        try holder.run()
        holderPID = holder.processIdentifier
        let said = holderOutput.fileHandleForReading.readLine()
        guard said == "ready" else {
            let why = String(decoding: holderError.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            holder.waitUntilExit()
            throw Failure("the journal namespace could not be set up: \(why)")
        }
        root = "/proc/\(holderPID)/root"
        let machineID = (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        journalDirectoryInside = "/run/log/journal/\(machineID)"
        journalDirectory = root + journalDirectoryInside
        do {
            try startJournald()
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// Starts journald in the namespace and waits for its READY=1 (no sleeping).
    private func startJournald() throws {
        let notify = NotifySocket(path: scratch.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))").path)
        try notify.open()
        defer { notify.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        // nsenter without --pid execs the program: the process is journald itself.
        process.arguments = ["--target", "\(holderPID)", "--mount", "--", Self.binary]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        lock.lock()
        journald = process
        lock.unlock()
        guard notify.await("READY=1", timeout: 20) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw Failure("systemd-journald did not report READY=1 within 20 s")
        }
    }

    /// Kills journald by its pid with `signal` (SIGTERM: it closes its files cleanly; SIGKILL:
    /// they stay "online", and the new one archives them as `.journal~`), waits for it, and
    /// starts a new one in the same namespace, with the files kept.
    public func restart(signal: Int32 = SIGTERM) throws {
        stopJournald(signal: signal)
        try startJournald()
    }

    private func stopJournald(signal: Int32) {
        lock.lock()
        let process = journald
        journald = nil
        lock.unlock()
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    /// Stops journald and the holder (by their pids); the namespace and its files go with them.
    public func stop() {
        stopJournald(signal: SIGTERM)
        if holder.isRunning {
            try? holderInput.fileHandleForWriting.close()
            holder.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: scratch)
    }

    /// The arguments that run `command` inside the namespace.
    public func nsenter(_ command: [String]) -> [String] {
        ["--target", "\(holderPID)", "--mount", "--"] + command
    }

    /// Runs a command inside the namespace to completion (`systemd-cat`, `journalctl`...).
    public func run(_ command: [String], input: Data? = nil, environment: [String: String]? = nil) throws -> CommandResult {
        try runCommand("/usr/bin/nsenter", nsenter(command), input: input, environment: environment)
    }

    /// Writes `lines` as one `systemd-cat -t identifier` stream (one entry per line) at `priority`,
    /// and waits until journald has written them.
    public func log(_ lines: [String], identifier: String, priority: String = "info") throws {
        let r = try run(
            ["/usr/bin/systemd-cat", "-t", identifier, "-p", priority],
            input: Data(lines.map { $0 + "\n" }.joined().utf8))
        guard r.status == 0 else { throw Failure("systemd-cat failed: \(r.stderr)") }
        try sync()
    }

    /// Returns once journald has written everything it received before (`journalctl --sync`):
    /// what was logged is then in the files, in order.
    public func sync() throws {
        try journalctl(["--sync"])
    }

    /// `journalctl` inside the namespace; throws when it fails.
    @discardableResult
    public func journalctl(_ arguments: [String]) throws -> String {
        let r = try run(["/usr/bin/journalctl"] + arguments)
        guard r.status == 0 else { throw Failure("journalctl \(arguments.joined(separator: " ")) failed: \(r.stderr)") }
        return r.stdout
    }

    /// Starts a long-running command inside the namespace (the daemon under test). Its output
    /// goes to files the handle names.
    public func spawn(_ command: [String], environment: [String: String]? = nil) throws -> SpawnedProcess {
        try SpawnedProcess(executable: "/usr/bin/nsenter", arguments: nsenter(command), environment: environment, directory: scratch)
    }

    /// Runs `body` on a thread of this process that has entered the namespace (the thread
    /// unshares its filesystem attributes, then `setns`): libsystemd calls made there, such as
    /// `sd_journal_sendv` or `sd_journal_open`, reach this journald. The rest of the process
    /// stays outside.
    public func withinNamespace<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let nsPath = "/proc/\(holderPID)/ns/mnt"
        let thread = Thread {
            defer { done.signal() }
            box.result = Result {
                try Self.enter(nsPath)
                return try body()
            }
        }
        thread.start()
        done.wait()
        return try box.result!.get()
    }

    /// Moves the calling thread into the mount namespace at `nsPath`.
    static func enter(_ nsPath: String) throws {
        // Glibc's module map leaves out unshare(2) and setns(2) (_GNU_SOURCE): look them up.
        typealias Unshare = @convention(c) (Int32) -> Int32
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        let cloneFS: Int32 = 0x0000_0200, cloneNewNS: Int32 = 0x0002_0000
        let libc = dlopen(nil, RTLD_NOW)
        guard let u = dlsym(libc, "unshare"), let s = dlsym(libc, "setns") else { throw Failure("no unshare/setns in libc") }
        let unshare = unsafeBitCast(u, to: Unshare.self), setns = unsafeBitCast(s, to: SetNS.self)
        guard unshare(cloneFS) == 0 else { throw Failure("unshare(CLONE_FS): \(String(cString: strerror(errno)))") }
        let fd = open(nsPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure("open \(nsPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard setns(fd, cloneNewNS) == 0 else { throw Failure("setns \(nsPath): \(String(cString: strerror(errno)))") }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }
}

/// A result handed from one thread to another that waits for it.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}

/// A long-running child: its pid, signals by pid, its output in files.
public final class SpawnedProcess: @unchecked Sendable {
    private let process: Process
    public let stdoutPath: String
    public let stderrPath: String

    public init(executable: String, arguments: [String], environment: [String: String]?, directory: URL) throws {
        let tag = UUID().uuidString.prefix(8)
        stdoutPath = directory.appendingPathComponent("spawn-\(tag).out").path
        stderrPath = directory.appendingPathComponent("spawn-\(tag).err").path
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    public var pid: pid_t { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` to this process (by its pid).
    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit; its exit status (or 128 + the signal that ended it).
    @discardableResult
    public func wait() -> Int32 {
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A datagram socket a child reports to with `sd_notify` (`NOTIFY_SOCKET`).
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private var fd: Int32 = -1

    public init(path: String) { self.path = path }

    public func open() throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw IsolatedJournald.Failure("socket: \(String(cString: strerror(errno)))") }
        var address = Journald.unixAddress(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw IsolatedJournald.Failure("bind \(path): \(String(cString: strerror(errno)))") }
    }

    /// The next datagram, or nil when none came within `timeout` seconds.
    public func receive(timeout: Double) -> String? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }

    /// Whether a datagram holding the line `line` came within `timeout` seconds.
    public func await(_ line: String, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while case let left = deadline.timeIntervalSinceNow, left > 0 {
            if let message = receive(timeout: left), message.split(separator: "\n").contains(Substring(line)) { return true }
        }
        return false
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        unlink(path)
    }
}

extension FileHandle {
    /// One line (without its newline) read byte by byte, or nil at the end.
    func readLine() -> String? {
        var bytes: [UInt8] = []
        while true {
            let data = readData(ofLength: 1)
            guard let byte = data.first else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
    }
}
