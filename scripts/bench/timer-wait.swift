// The soak's leak in miniature (docs/PERFORMANCE.md, "Soak"): TimerService's old wait (a task
// group racing Task.sleep against a child iterating an AsyncStream) against `Wakeup`, in the
// same loop, with a signal every 100 ms and delays alternating 50 ms / 600 s (a save due, an
// open alert's resolve time). Prints turns of the loop and RSS every 2 s.
//   swiftc -O -parse-as-library -o /tmp/timer-wait scripts/bench/timer-wait.swift Sources/Daemon/Wakeup.swift
//   /tmp/timer-wait old 12; /tmp/timer-wait new 12; rm /tmp/timer-wait
import Foundation

@main struct TimerWait {
    static func main() async {
        let mode = CommandLine.arguments[1]
        let seconds = Double(CommandLine.arguments[2])!
        func rssMB() -> String {
            let s = try! String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            return s.split(separator: "\n").first { $0.hasPrefix("VmRSS") }.map(String.init) ?? "?"
        }
        let (opened, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let wakeup = Wakeup()
        // A "hub": signals about once per 100 ms, as deliver() does after a save.
        Thread.detachNewThread {
            while true { Thread.sleep(forTimeInterval: 0.1); if mode == "old" { continuation.yield() } else { wakeup.signal() } }
        }
        let start = Date()
        var turns = 0
        var lastReport = start
        while Date().timeIntervalSince(start) < seconds {
            // Alternating: a short delay (a save due) or the resolve time of an open alert (600 s).
            let delay = turns % 2 == 0 ? 0.05 : 600.0
            if mode == "old" {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { try? await Task.sleep(for: .seconds(delay)) }
                    group.addTask { for await _ in opened { return } }
                    await group.next()
                    group.cancelAll()
                }
            } else {
                await wakeup.wait(seconds: delay)
            }
            turns += 1
            if Date().timeIntervalSince(lastReport) >= 2 {
                lastReport = Date()
                print(String(format: "%@ t=%.0fs turns=%d %@", mode, lastReport.timeIntervalSince(start), turns, rssMB()))
            }
        }
    }
}
