import CSystemd
import Foundation

/// The sd_notify protocol: READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1. Does nothing
/// when the daemon was not started by systemd (no NOTIFY_SOCKET).
public enum Notifier {
    /// Whether a service manager listens.
    public static var isActive: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    /// The corresponding C function is `sd_notify`.
    public static func notify(_ state: String) {
        _ = sd_notify(0, state)
    }

    /// How often systemd expects WATCHDOG=1 (WatchdogSec=), or nil without a watchdog.
    /// The corresponding C function is `sd_watchdog_enabled`.
    public static var watchdogInterval: Double? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return Double(usec) / 1_000_000
    }

    /// `RELOADING=1` with the monotonic time systemd 253+ asks for (older ones ignore it).
    public static func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        notify("RELOADING=1\nMONOTONIC_USEC=\(UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000)")
    }
}
