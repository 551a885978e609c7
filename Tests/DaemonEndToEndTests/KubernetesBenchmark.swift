import Foundation
import TestSupport
import Testing

/// The Kubernetes source's costs (docs/PERFORMANCE.md): 200 streams at 1,000 lines/s in total,
/// the daemon's RSS, its kubectl children's PSS (summed), CPU, and write-to-alert latency (the
/// time from a line's write on the API server's side to its alert on the console). Runs only
/// with CASEWATCH_BENCH_KUBERNETES=1 (scripts/bench/kubernetes.sh): figures are measured, never
/// asserted in the test suite.
@Suite struct KubernetesBenchmark {
    static var enabled: Bool { ProcessInfo.processInfo.environment["CASEWATCH_BENCH_KUBERNETES"] == "1" }

    @Test(.enabled(if: enabled), arguments: [ProcessInfo.processInfo.environment["CASEWATCH_BENCH_KUBECTL"] ?? "1.33"])
    func twoHundredStreamsAtAThousandLinesPerSecond(version: String) throws {
        let env = ProcessInfo.processInfo.environment
        let pods = Int(env["CASEWATCH_BENCH_PODS"] ?? "") ?? 200
        let rate = Double(env["CASEWATCH_BENCH_RATE"] ?? "") ?? 1000
        let seconds = Double(env["CASEWATCH_BENCH_SECONDS"] ?? "") ?? 30
        let transport = env["CASEWATCH_BENCH_TRANSPORT"] ?? "kubectl-logs"
        let h = try KubernetesHarness(kubectl: version, transport: transport)
        for i in 1...pods { h.server.addPod(namespace: "load", name: "pod-\(i)", containers: [.init("c")]) }
        try h.configure("max_streams: \(pods)\nevents: false")
        let daemon = try h.start(slice: 60)  // the default time slice (no stream waits here)
        // Wait until every stream is open.
        let ready = Date().addingTimeInterval(120)
        while h.server.openLogStreams < pods && Date() < ready { Thread.sleep(forTimeInterval: 0.1) }
        let opened = h.server.openLogStreams
        // Writer: `rate` lines/s spread over the pods; one line in 100 is a probe (an alert).
        final class Sent: @unchecked Sendable {
            let lock = NSLock()
            var at: [Int: Double] = [:]
        }
        let sent = Sent()
        let server = h.server
        let stop = Date().addingTimeInterval(seconds + 5)
        let writer = Thread {
            var n = 0
            let tick = 0.01
            var next = Date().timeIntervalSince1970
            while Date() < stop {
                let batch = Int(rate * tick)
                for _ in 0..<batch {
                    n += 1
                    let pod = "pod-\(n % pods + 1)"
                    if n % 100 == 0 {
                        let probe = n / 100
                        sent.lock.withLock { sent.at[probe] = Date().timeIntervalSince1970 }
                        server.appendLog(namespace: "load", pod: pod, container: "c", ["probe-line \(probe) latency"])
                    } else {
                        server.appendLog(namespace: "load", pod: pod, container: "c", ["GET /api/v1/status 200 12ms request_id=\(n) user=admin"])
                    }
                }
                next += tick
                let wait = next - Date().timeIntervalSince1970
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            }
        }
        writer.start()
        Thread.sleep(forTimeInterval: 5)  // warm-up
        let cpu0 = cpuSeconds(daemon.pid), children0 = childrenCPU(daemon.pid), t0 = Date()
        var latencies: [Double] = []
        var seenProbes: Set<Int> = []
        var rss: [Double] = [], pss: [Double] = []
        var offset = 0
        let stdoutPath = daemon.stdoutPath
        var nextSample = Date()
        while Date() < stop {
            // Read the console's new lines as they come (polled every 2 ms).
            if let handle = FileHandle(forReadingAtPath: stdoutPath) {
                try handle.seek(toOffset: UInt64(offset))
                let data = handle.readDataToEndOfFile()
                try handle.close()
                if let end = data.lastIndex(of: 0x0A) {
                    let now = Date().timeIntervalSince1970
                    offset += end + 1
                    for line in data[..<end].split(separator: 0x0A) {
                        guard let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                            let n = ((o["captures"] as? [String: Any])?["n"] as? String).flatMap(Int.init), seenProbes.insert(n).inserted,
                            let at = sent.lock.withLock({ sent.at[n] })
                        else { continue }
                        // Probes written before the measured window (the warm-up) are not counted.
                        if at >= t0.timeIntervalSince1970 { latencies.append(now - at) }
                    }
                }
            }
            if Date() >= nextSample {
                rss.append(kib(daemon.pid, "/status", "VmRSS:") / 1024)
                pss.append(children(daemon.pid).map { kib($0, "/smaps_rollup", "Pss:") }.reduce(0, +) / 1024)
                nextSample = Date().addingTimeInterval(1)
            }
            Thread.sleep(forTimeInterval: 0.002)
        }
        let wall = Date().timeIntervalSince(t0)
        let cpu = (cpuSeconds(daemon.pid) - cpu0) / wall * 100
        let childCPU = (childrenCPU(daemon.pid) - children0) / wall * 100
        latencies.sort()
        func p(_ q: Double) -> Double { latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))] * 1000 }
        let kids = children(daemon.pid).count
        print("""
            KUBERNETES-BENCH \(transport), kubectl \(version): \(pods) pods (\(opened) streams open, \(kids) kubectl children), \(Int(rate)) lines/s, \(Int(wall)) s measured
            KUBERNETES-BENCH daemon RSS MB: max \(String(format: "%.1f", rss.max() ?? 0)), median \(String(format: "%.1f", rss.sorted()[rss.count / 2]))
            KUBERNETES-BENCH kubectl children PSS MB (sum): max \(String(format: "%.0f", pss.max() ?? 0)), per child \(String(format: "%.1f", (pss.max() ?? 0) / Double(max(kids, 1))))
            KUBERNETES-BENCH CPU % of one core: daemon \(String(format: "%.1f", cpu)), kubectl children \(String(format: "%.1f", childCPU))
            KUBERNETES-BENCH write-to-alert ms: p50 \(String(format: "%.0f", p(0.5))), p99 \(String(format: "%.0f", p(0.99))), max \(String(format: "%.0f", latencies.last.map { $0 * 1000 } ?? .nan)) over \(latencies.count) probes
            """)
        #expect(!latencies.isEmpty)
    }

    /// The children of every thread of `pid` (swift-subprocess spawns from a thread of its own).
    func children(_ pid: pid_t) -> [pid_t] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task -> [pid_t] in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { pid_t($0) }
        }
    }

    func kib(_ pid: pid_t, _ file: String, _ key: String) -> Double {
        let text = (try? String(contentsOfFile: "/proc/\(pid)\(file)", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    func cpuSeconds(_ pid: pid_t) -> Double {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command.
        return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func childrenCPU(_ pid: pid_t) -> Double { children(pid).map(cpuSeconds).reduce(0, +) }
}
