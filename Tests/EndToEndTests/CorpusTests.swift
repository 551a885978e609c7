import Foundation
import TestSupport
import Testing

/// `casewatch scan` over every public corpus raises only the alerts that truly describe a line
/// (docs/CASES.md says why each is right). A new false positive, or a lost true one, fails here.
@Suite struct CorpusTests {
    @Test(.needsShared) func corporaRaiseOnlyThePinnedAlerts() throws {
        let files = Paths.corpusFiles
        #expect(files.count >= 20, "\(Paths.shared.path)/corpora has too few logs")
        let r = try runCommand(Paths.casewatch, ["scan", "--count", "--no-cache"] + files)
        #expect(r.status == 0, "\(r.stderr)")
        var counts: [String: Int] = [:]
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            counts[String(parts[1])] = Int(parts[0])
        }
        #expect(counts == ["pod-crashloop-backoff": 85, "pod-image-manifest-unknown": 8])
    }

    /// kubelet and containerd lines of the GKE journal, each naming the real cause.
    @Test(.needsShared) func theTruePositivesComeFromTheKubeletJournal() throws {
        let journal = Paths.shared.appendingPathComponent("corpora/loki-drain-testdata/journald.txt").path
        let r = try runCommand(Paths.casewatch, ["scan", "--format", "json", "--no-cache", journal])
        let objects = try r.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count == 93)
        for o in objects {
            let line = o["line"] as? String ?? ""
            switch o["case_id"] as? String {
            case "pod-crashloop-backoff": #expect(line.contains("CrashLoopBackOff"))
            case "pod-image-manifest-unknown": #expect(line.contains("code = NotFound desc = failed to pull and unpack image"))
            default: Issue.record("unexpected alert: \(o)")
            }
        }
    }
}
