import Foundation
import TestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `casewatch run` with `metrics.listen` on loopback: a symptom written to the test's own journald
/// moves the counters read back over HTTP, as a Prometheus scraper reads them.
@Suite struct MetricsEndToEndTests {
    /// A port nothing listens on now: bound to port 0, read back, released.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw IsolatedJournald.Failure("Failed to find a free port") }
        return Int(UInt16(bigEndian: a.sin_port))
    }

    /// GET over URLSession; the body and the status.
    static func get(_ url: String) throws -> (Int, String) {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, String)?
        nonisolated(unsafe) var failure: Error?
        URLSession.shared.dataTask(with: URL(string: url)!) { data, response, error in
            if let error { failure = error } else {
                result = ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
            }
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + 10) == .success else { throw IsolatedJournald.Failure("GET \(url): no answer in 10 s") }
        if let failure { throw failure }
        return result!
    }

    /// The value of one sample line, `name{labels} value`, as written.
    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func theCountersMoveWhenASymptomIsWritten() throws {
        let h = try DaemonHarness()
        let port = try Self.freePort()
        try h.configure("""
            sources:
              journald: {identifiers: [kubelet]}
            sinks:
              journald: {}
            metrics: {listen: "127.0.0.1:\(port)"}
            """)
        let d = try h.start()
        let url = "http://127.0.0.1:\(port)/metrics"
        let (status, before) = try Self.get(url)
        #expect(status == 200)
        #expect(Self.value(before, #"casewatch_records_read_total{source="journald"}"#) == 0, "\(before)")
        #expect(before.contains("casewatch_build_info{"))

        try h.journald.log(["kubelet started", RunJournaldTests.crashLoop], identifier: "kubelet")
        _ = try h.awaitAlerts(count: 1) { $0["CASE_ID"] == "pod-crashloop-backoff" }
        // The alert is in the journal once the sink wrote it; the counters moved before that.
        let (_, after) = try Self.get(url)
        #expect((Self.value(after, #"casewatch_records_read_total{source="journald"}"#) ?? 0) >= 2, "\(after)")
        #expect((Self.value(after, #"casewatch_bytes_read_total{source="journald"}"#) ?? 0) >= Double(RunJournaldTests.crashLoop.utf8.count), "\(after)")
        #expect((Self.value(after, #"casewatch_symptom_hits_total{case="pod-crashloop-backoff"}"#) ?? 0) >= 1, "\(after)")
        #expect(Self.value(after, #"casewatch_alerts_total{case="pod-crashloop-backoff"}"#) == 1, "\(after)")
        #expect(Self.value(after, #"casewatch_sink_writes_total{sink="journald",outcome="written"}"#) == 1, "\(after)")
        #expect(!after.contains("bk-repo-gateway"), "a pod name became a label")

        // A reload is counted too.
        d.signal(SIGHUP)
        let deadline = Date().addingTimeInterval(30)
        var reloaded = ""
        repeat {
            reloaded = try Self.get(url).1
        } while Self.value(reloaded, #"casewatch_reloads_total{outcome="success"}"#) != 1 && Date() < deadline
        #expect(Self.value(reloaded, #"casewatch_reloads_total{outcome="success"}"#) == 1, "\(reloaded)")

        // Anything but /metrics is not found; the listener is on loopback only.
        #expect(try Self.get("http://127.0.0.1:\(port)/nothing").0 == 404)
        #expect(h.stop() == 0, "SIGTERM: a clean exit with the listener running")
    }

    @Test func aTakenPortFailsTheStartWithAMessage() throws {
        let h = try DaemonHarness()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 && listen(fd, 1) == 0 }
        }
        let port = Int(UInt16(bigEndian: a.sin_port))
        try h.configure("sources:\n  journald: {}\nsinks:\n  journald: {}\nmetrics: {listen: \"127.0.0.1:\(port)\"}\n")
        let d = try h.start(awaitReady: false)
        let status = d.wait()
        h.daemon = nil
        #expect(status != 0)
        #expect(d.stderr.contains("Failed to listen on 127.0.0.1:\(port) for the metrics"), "\(d.stderr)")
    }
}
