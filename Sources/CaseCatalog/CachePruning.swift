import Foundation

/// Old cache files go: every catalog change (an edit, an upgrade, a reload with new patterns)
/// writes a new database and a new parsed catalog under a new name, and nothing else would ever
/// remove the old ones from a daemon's cache directory.
public enum CachePruning {
    /// Keeps the `keep` most recently written files whose names start with `prefix` and end with
    /// `suffix` in `directory`, and removes the others. Best effort: a file that cannot be removed
    /// only costs disk space.
    public static func prune(_ directory: String, prefix: String, suffix: String, keep: Int = 8) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else { return }
        let files = names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }.map { (directory as NSString).appendingPathComponent($0) }
        guard files.count > keep else { return }
        let dated = files.map { path in
            (path, (try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast)
        }
        for (path, _) in dated.sorted(by: { $0.1 > $1.1 }).dropFirst(keep) {
            unlink(path)
        }
    }
}
