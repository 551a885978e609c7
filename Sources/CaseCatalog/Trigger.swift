/// How the symptoms of a case combine into an alert.
///
/// Without a trigger any symptom raises the case. With `steps`, the case is raised when the
/// steps are seen in order in the same stream within `window`; `count` asks for the last step
/// that many times; a symptom named in `unless` seen within the window suppresses the case.
/// Symptoms that no step and no `unless` names still raise the case alone.
public struct Trigger: Sendable, Hashable {
    /// Each step is a set of symptom ids, any of which completes the step.
    public var steps: [[String]]
    /// Seconds.
    public var window: Double
    /// At most this many lines from one step to the next, in the same stream (nil: any).
    public var windowLines: Int?
    public var count: Int
    public var unless: [String]

    public static let defaultWindow: Double = 600

    public init(
        steps: [[String]] = [], window: Double = Trigger.defaultWindow, windowLines: Int? = nil, count: Int = 1,
        unless: [String] = []
    ) {
        self.steps = steps
        self.window = window
        self.windowLines = windowLines
        self.count = count
        self.unless = unless
    }

    /// Every symptom id the trigger names.
    public var namedSymptoms: Set<String> {
        Set(steps.joined()).union(unless)
    }
}
