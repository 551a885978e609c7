import Foundation
import LogSources
import Yams

extension DaemonConfiguration {
    /// `sources.files`: log files followed like `tail -F`, and how.
    public struct Files: Sendable, Equatable {
        public struct Entry: Sendable, Equatable {
            /// A file or a glob.
            public var path: String
            public var exclude: [String] = []
            public var start: FileTailOptions.Entry.Start = .end
        }

        public var entries: [Entry] = []
        /// `sources.files_max_open`: files open at once, at most.
        public var maxOpen = 256
        /// `sources.files_partial_wait`: how long a last line without its newline waits for it.
        public var partialWait: Double = 5

        public var options: [FileTailOptions.Entry] {
            entries.map { FileTailOptions.Entry(path: $0.path, exclude: $0.exclude, start: $0.start) }
        }
    }
}

extension ConfigReader {
    static let fileKeys = ["files", "files_max_open", "files_partial_wait"]

    /// `sources.files: [{path, exclude, start}]`, `sources.files_max_open`,
    /// `sources.files_partial_wait`.
    func readFiles(_ name: String, _ node: Node, into s: inout DaemonConfiguration.Sources) {
        var files = s.files ?? DaemonConfiguration.Files()
        defer { s.files = files }
        let key = "sources.\(name)"
        switch name {
        case "files_max_open":
            if let n = integer(node, key, atLeast: 1) { files.maxOpen = n }
            return
        case "files_partial_wait":
            if let d = duration(node, key) { files.partialWait = d }
            return
        default: break
        }
        guard case .sequence(let seq) = node else {
            fail(node, key, "expected a list of {path, exclude, start}")
            return
        }
        for (i, item) in seq.enumerated() {
            let at = "\(key)[\(i)]"
            guard let fields = mapping(item, at, allowed: ["path", "exclude", "start"]) else { continue }
            var entry = DaemonConfiguration.Files.Entry(path: "")
            for (field, _, value) in fields {
                let full = "\(at).\(field)"
                switch field {
                case "path":
                    if let p = string(value, full) {
                        if p.hasPrefix("/") { entry.path = p } else { fail(value, full, "expected an absolute path or glob, got '\(p)'") }
                    }
                case "exclude": entry.exclude = strings(value, full) ?? []
                default:
                    if let raw = string(value, full) {
                        if let st = FileTailOptions.Entry.Start(rawValue: raw) { entry.start = st } else {
                            fail(value, full, "expected end or beginning, got '\(raw)'")
                        }
                    }
                }
            }
            if entry.path.isEmpty {
                if !fields.contains(where: { $0.0 == "path" }) { fail(item, "\(at).path", "required: the file or glob to follow") }
                continue
            }
            files.entries.append(entry)
        }
    }
}
