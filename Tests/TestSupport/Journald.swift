import Foundation

/// A real systemd-journald for a test: started here (no systemd as PID 1 is needed), ready when
/// it says READY=1 on the notify socket we hand it, stopped by its pid. When a journald already
/// serves /run/systemd/journal/socket, that one is used and left alone.
public final class Journald: @unchecked Sendable {
    public let pid: pid_t?

    public static let binary = "/lib/systemd/systemd-journald"
    static let socketPath = "/run/systemd/journal/socket"

    public init() throws {
        if Self.isServing() {
            pid = nil
            return
        }
        // Our notify socket: journald sends READY=1 to it once it accepts messages.
        let dir = Paths.temporaryDirectory("casewatch-journald")
        let notifyPath = dir.appendingPathComponent("notify").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd); try? FileManager.default.removeItem(at: dir) }
        var address = Self.unixAddress(notifyPath)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw Failure("bind \(notifyPath): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notifyPath
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        pid = process.processIdentifier

        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else {
                stop()
                throw Failure("systemd-journald did not report READY=1 within 20 s")
            }
            if String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").contains("READY=1") { break }
        }
    }

    static func unixAddress(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            _ = path.utf8CString.withUnsafeBytes { raw.copyMemory(from: $0) }
        }
        return address
    }

    /// Whether something accepts datagrams on the journal socket now.
    static func isServing() -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = unixAddress(socketPath)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        } == 0
    }

    /// Stops the journald this fixture started (by its pid) and reaps it.
    public func stop() {
        guard let pid else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }
}
