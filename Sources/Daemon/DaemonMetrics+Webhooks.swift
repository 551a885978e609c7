import CoreMetrics
import Foundation

/// The webhook sinks' series. Labels: `sink` (the configured name) and `format` (one of six
/// words), never a URL.
extension DaemonMetrics {
    public enum DeliveryOutcome: String, Sendable, CaseIterable {
        /// The receiver took it (2xx and, for a chat robot, no error in the body).
        case delivered
        /// A try failed and will be retried.
        case retried
        /// Refused for good (4xx other than 408 / 429, or a permanent error code): dead letter.
        case dead_letter
    }

    /// One try to deliver `count` notifications.
    public func webhookDelivery(sink: String, format: String, outcome: DeliveryOutcome, count: Int = 1) {
        counter("casewatch_webhook_deliveries_total", [("sink", sink), ("format", format), ("outcome", outcome.rawValue)]).increment(by: count)
        if outcome == .dead_letter {
            counter("casewatch_webhook_dead_letters_total", [("sink", sink), ("format", format)]).increment(by: count)
        }
    }

    /// Notifications waiting in the sink's spool.
    public func webhookSpoolDepth(sink: String, format: String, depth: Int) {
        gauge("casewatch_webhook_spool_depth", [("sink", sink), ("format", format)]).record(depth)
    }

    /// Notifications removed from a full spool (the oldest of the lowest severity).
    public func webhookEvicted(sink: String, format: String, count: Int) {
        counter("casewatch_webhook_spool_evicted_total", [("sink", sink), ("format", format)]).increment(by: count)
    }

    /// Notifications the robot's rate limit held back, to be sent merged into a summary later
    /// (never dropped).
    public func webhookRateLimited(sink: String, format: String, count: Int) {
        counter("casewatch_webhook_rate_limited_total", [("sink", sink), ("format", format)]).increment(by: count)
    }

    /// Every webhook series at 0 before anything happens.
    public func declareWebhook(sink: String, format: String) {
        for o in DeliveryOutcome.allCases {
            counter("casewatch_webhook_deliveries_total", [("sink", sink), ("format", format), ("outcome", o.rawValue)]).increment(by: 0)
        }
        counter("casewatch_webhook_dead_letters_total", [("sink", sink), ("format", format)]).increment(by: 0)
        counter("casewatch_webhook_spool_evicted_total", [("sink", sink), ("format", format)]).increment(by: 0)
        counter("casewatch_webhook_rate_limited_total", [("sink", sink), ("format", format)]).increment(by: 0)
    }
}
