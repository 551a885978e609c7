import Foundation

/// Places the tests need, found from this file's location in the repository.
public enum Paths {
    /// The repository root.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built-in catalog.
    public static var patterns: String { root.appendingPathComponent("Patterns").path }

    /// The knowledge base and the log corpora: `$CASEWATCH_SHARED`, by default ../shared beside
    /// the repository.
    public static var shared: URL {
        if let path = ProcessInfo.processInfo.environment["CASEWATCH_SHARED"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return root.deletingLastPathComponent().appendingPathComponent("shared")
    }

    /// Whether `shared` is there. A clone without it runs every test that does not need it.
    public static var sharedIsPresent: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: shared.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Whether the tests run in CI (`CI=true`), where nothing may be skipped for a missing
    /// `shared`.
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Every log file of ../shared/corpora, sorted (documentation and templates left out).
    public static var corpusFiles: [String] {
        let base = shared.appendingPathComponent("corpora")
        guard let e = FileManager.default.enumerator(atPath: base.path) else { return [] }
        return e.compactMap { $0 as? String }
            .filter { f in
                let name = (f as NSString).lastPathComponent
                return (name.hasSuffix(".log") || name.hasSuffix(".txt") || name.hasSuffix(".gz"))
                    && !name.hasPrefix("SOURCE") && !name.hasPrefix("README") && !name.contains("README")
            }
            .sorted()
            .map { base.appendingPathComponent($0).path }
    }

    /// One cache directory for the end-to-end runs of this test process, inside the build
    /// directory (ignored by git, removed with it): the tests share the compiled databases
    /// instead of leaving a directory in /tmp per test.
    public static let testCache: String = {
        let dir = root.appendingPathComponent(".build/test-cache-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// The environment the end-to-end tests run `casewatch` in: English, the shared cache.
    public static var commandEnvironment: [String: String] {
        var e = ProcessInfo.processInfo.environment
        e["LANG"] = "en_US.UTF-8"
        e["LC_ALL"] = nil
        e["XDG_CACHE_HOME"] = testCache
        return e
    }

    /// A fresh temporary directory, removed by the caller with `remove`.
    public static func temporaryDirectory(_ label: String = "casewatch-test") -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A small deterministic generator for property tests (SplitMix64), so a failure reproduces.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
