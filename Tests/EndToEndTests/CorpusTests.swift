import Foundation
import TestSupport
import Testing

/// `casewatch scan` over every public corpus raises only the alerts that truly describe a line
/// (docs/CASES.md says why each is right). A new false positive, or a lost true one, fails here.
@Suite struct CorpusTests {
    @Test(.needsShared) func corporaRaiseOnlyThePinnedAlerts() throws {
        let files = Paths.corpusFiles
        #expect(files.count >= 20, "\(Paths.shared.path)/corpora has too few logs")
        func counts(_ extra: [String]) throws -> [String: Int] {
            let r = try runCommand(Paths.casewatch, ["scan", "--count", "--no-cache"] + extra + files)
            #expect(r.status == 0, "\(r.stderr)")
            var counts: [String: Int] = [:]
            for line in r.stdout.split(separator: "\n") {
                let parts = line.split(separator: "\t")
                counts[String(parts[1])] = Int(parts[0])
            }
            return counts
        }
        #expect(try counts(["--no-dedup"]) == ["pod-crashloop-backoff": 85, "pod-image-manifest-unknown": 8])
        // One alert per pod (74 pods crash-loop in the GKE journal); one for the missing image.
        #expect(try counts([]) == ["pod-crashloop-backoff": 74, "pod-image-manifest-unknown": 1])
    }

    /// kubelet and containerd lines of the GKE journal, each naming the real cause.
    @Test(.needsShared) func theTruePositivesComeFromTheKubeletJournal() throws {
        let journal = Paths.shared.appendingPathComponent("corpora/loki-drain-testdata/journald.txt").path
        let r = try runCommand(Paths.casewatch, ["scan", "--format", "json", "--no-cache", journal])
        let objects = try r.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        // A storm is one alert per pod with its count: the first hit, then (at the end of the
        // input) one update with the final count for each alert that repeated.
        let firsts = objects.filter { ($0["event_id"] as? String)?.hasSuffix("-firing-1") == true }
        let updates = objects.filter { ($0["event_id"] as? String)?.hasSuffix("-firing-2") == true }
        #expect(firsts.count == 75 && firsts.count + updates.count == objects.count)
        #expect(Set(firsts.map { $0["alert_id"] as? String }).count == 75, "one incident per alert id")
        #expect(Set(updates.map { $0["alert_id"] as? String }).isSubset(of: Set(firsts.map { $0["alert_id"] as? String })))
        var total: [String: Int] = [:]
        for o in objects {
            let id = o["case_id"] as? String ?? ""
            let isFinal = !objects.contains { ($0["alert_id"] as? String) == (o["alert_id"] as? String) && ($0["count"] as? Int ?? 0) > (o["count"] as? Int ?? 0) }
            if isFinal { total[id, default: 0] += o["count"] as? Int ?? 0 }
        }
        #expect(total == ["pod-crashloop-backoff": 85, "pod-image-manifest-unknown": 8], "every hit counted")
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
