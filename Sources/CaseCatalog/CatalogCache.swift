import Foundation

/// Parsed catalogs on disk, so a restart with unchanged case files skips the YAML parse (half a
/// second for 10,000 cases). A cache file holds the exact bytes of every case file it was
/// parsed from, and the casewatch version that parsed them, and is used only when they are all
/// still byte-for-byte the same; anything unreadable is ignored and the YAML parsed again.
public struct CatalogCache: Sendable {
    public let directory: String
    /// The casewatch version in the key: what a file means (defaults, the model) is decided by
    /// the code that parsed it. Another value only in tests.
    let version: String

    public init(directory: String) {
        self.init(directory: directory, version: CasewatchVersion.string)
    }

    init(directory: String, version: String) {
        self.directory = directory
        self.version = version
    }

    // Bump with every change of the binary form below.
    private static let magic = Array("CWCAT2\n".utf8)

    /// The case files of `directories`, in load order, with their bytes.
    static func sources(_ directories: [String]) -> [(path: String, bytes: [UInt8])]? {
        var result: [(String, [UInt8])] = []
        for dir in directories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return nil }
            for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                let path = (dir as NSString).appendingPathComponent(name)
                guard let data = FileManager.default.contents(atPath: path) else { return nil }
                result.append((path, [UInt8](data)))
            }
        }
        return result
    }

    private func file(for key: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        return (directory as NSString).appendingPathComponent("catalog-\(String(hash, radix: 16)).bin")
    }

    private func key(_ sources: [(path: String, bytes: [UInt8])]) -> [UInt8] {
        var w = BinaryWriter()
        w.string(version)
        w.int(sources.count)
        for s in sources {
            w.string(s.path)
            w.bytes(s.bytes)
        }
        return w.out
    }

    /// The catalog of `directories` when a cache file matches their current contents.
    public func load(directories: [String]) -> Catalog? {
        guard let sources = Self.sources(directories) else { return nil }
        let key = self.key(sources)
        guard let data = FileManager.default.contents(atPath: file(for: key)) else { return nil }
        let bytes = [UInt8](data)
        guard bytes.count > Self.magic.count + key.count,
            bytes[0..<Self.magic.count].elementsEqual(Self.magic),
            bytes[Self.magic.count..<Self.magic.count + key.count].elementsEqual(key)
        else { return nil }
        var r = BinaryReader(bytes: bytes, at: Self.magic.count + key.count)
        guard let cases = r.cases(), r.atEnd else { return nil }
        return try? Catalog(cases: cases)
    }

    /// Best effort: a cache that cannot be written only costs the next start a parse.
    public func store(_ catalog: Catalog, directories: [String]) {
        guard let sources = Self.sources(directories) else { return }
        let key = self.key(sources)
        var w = BinaryWriter()
        w.out = Self.magic + key
        w.cases(catalog.cases)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let final = file(for: key)
        let temporary = final + ".tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(w.out)) else { return }
        if rename(temporary, final) != 0 { unlink(temporary) }
        CachePruning.prune(directory, prefix: "catalog-", suffix: ".bin")
    }
}

extension Catalog {
    /// Loads the catalog from `cache` when its files are unchanged, else parses them (and
    /// stores the result in `cache`).
    public static func load(directories: [String], cache: CatalogCache?) throws(CatalogErrors) -> Catalog {
        if let cache, let catalog = cache.load(directories: directories) { return catalog }
        let catalog = try load(directories: directories)
        cache?.store(catalog, directories: directories)
        return catalog
    }
}

struct BinaryWriter {
    var out: [UInt8] = []

    mutating func int(_ v: Int) {
        var x = UInt64(bitPattern: Int64(v))
        for _ in 0..<8 {
            out.append(UInt8(truncatingIfNeeded: x))
            x >>= 8
        }
    }
    mutating func bytes(_ b: [UInt8]) { int(b.count); out += b }
    mutating func string(_ s: String) { bytes(Array(s.utf8)) }
    mutating func optional(_ s: String?) {
        if let s { int(1); string(s) } else { int(0) }
    }
    mutating func strings(_ a: [String]) { int(a.count); a.forEach { string($0) } }
    mutating func localized(_ l: Localized) { string(l.en); string(l.zh) }
    mutating func location(_ l: SourceLocation) { string(l.file); int(l.line) }

    mutating func optional(_ l: Localized?) {
        if let l { int(1); localized(l) } else { int(0) }
    }

    mutating func fix(_ f: Case.Fix) {
        localized(f.text); strings(f.versions); strings(f.owns)
        int(f.steps.count); f.steps.forEach { step($0) }
    }

    mutating func step(_ s: Case.Fix.Step) {
        localized(s.text); optional(s.when); location(s.location)
        int(s.commands.count)
        for c in s.commands {
            switch c.body {
            case .shell(let command): int(0); string(command)
            case .file(let path, let lines): int(1); string(path); strings(lines)
            case .sql(let database, let lines): int(2); string(database); strings(lines)
            }
            optional(c.warning); location(c.location)
        }
        int(s.alternatives.count); s.alternatives.forEach { step($0) }
    }

    mutating func cases(_ cases: [Case]) {
        int(cases.count)
        for c in cases {
            string(c.id); localized(c.title); string(c.severity.rawValue)
            string(c.source.seed); string(c.source.heading); strings(c.source.also)
            int(c.symptoms.count)
            for s in c.symptoms {
                string(s.id); string(s.regex); int(Int(s.flags.rawValue)); location(s.location)
                if let sources = s.scope.sources { int(1); strings(sources.map(\.rawValue).sorted()) } else { int(0) }
                optional(s.scope.namespace?.pattern); optional(s.scope.pod?.pattern)
                optional(s.scope.container?.pattern); optional(s.scope.unit?.pattern)
            }
            if let t = c.trigger {
                int(1)
                int(t.steps.count); t.steps.forEach { strings($0) }
                int(Int(t.window * 1000)); int(t.windowLines ?? -1); int(t.count); strings(t.unless)
            } else {
                int(0)
            }
            strings(c.supersedes); localized(c.diagnosis); fix(c.fix)
            strings(c.examples.match); strings(c.examples.noMatch); location(c.location)
        }
    }
}

/// Reads what `BinaryWriter` wrote; every read fails softly (nil) on a short or odd file.
struct BinaryReader {
    let bytes: [UInt8]
    var at: Int

    var atEnd: Bool { at == bytes.count }

    mutating func int() -> Int? {
        guard at + 8 <= bytes.count else { return nil }
        var x: UInt64 = 0
        for i in (0..<8).reversed() { x = x << 8 | UInt64(bytes[at + i]) }
        at += 8
        return Int(Int64(bitPattern: x))
    }
    mutating func count() -> Int? {
        guard let n = int(), n >= 0, n <= bytes.count - at else { return nil }
        return n
    }
    mutating func string() -> String? {
        guard let n = count() else { return nil }
        defer { at += n }
        return String(decoding: bytes[at..<at + n], as: UTF8.self)
    }
    mutating func optional() -> String?? {
        guard let flag = int() else { return nil }
        return flag == 0 ? .some(nil) : string().map { .some($0) }
    }
    mutating func strings() -> [String]? {
        guard let n = count() else { return nil }
        var a: [String] = []
        a.reserveCapacity(n)
        for _ in 0..<n { guard let s = string() else { return nil }; a.append(s) }
        return a
    }
    mutating func localized() -> Localized? {
        guard let en = string(), let zh = string() else { return nil }
        return Localized(en: en, zh: zh)
    }
    mutating func location() -> SourceLocation? {
        guard let file = string(), let line = int() else { return nil }
        return SourceLocation(file: file, line: line)
    }

    mutating func optionalLocalized() -> Localized?? {
        guard let flag = int() else { return nil }
        return flag == 0 ? .some(nil) : localized().map { .some($0) }
    }

    mutating func fix() -> Case.Fix? {
        guard let text = localized(), let versions = strings(), let owns = strings(), let n = count() else { return nil }
        var steps: [Case.Fix.Step] = []
        for _ in 0..<n { guard let s = step(depth: 0) else { return nil }; steps.append(s) }
        return Case.Fix(text: text, steps: steps, versions: versions, owns: owns)
    }

    mutating func step(depth: Int) -> Case.Fix.Step? {
        guard depth < 2, let text = localized(), let when = optionalLocalized(), let loc = location(), let n = count() else { return nil }
        var commands: [Case.Fix.Command] = []
        for _ in 0..<n {
            guard let kind = int() else { return nil }
            let body: Case.Fix.Command.Body
            switch kind {
            case 0: guard let c = string() else { return nil }; body = .shell(c)
            case 1: guard let p = string(), let l = strings() else { return nil }; body = .file(path: p, lines: l)
            case 2: guard let d = string(), let l = strings() else { return nil }; body = .sql(database: d, lines: l)
            default: return nil
            }
            guard let warning = optionalLocalized(), let cloc = location() else { return nil }
            commands.append(Case.Fix.Command(body, warning: warning, location: cloc))
        }
        guard let m = count() else { return nil }
        var alternatives: [Case.Fix.Step] = []
        for _ in 0..<m { guard let a = step(depth: depth + 1) else { return nil }; alternatives.append(a) }
        return Case.Fix.Step(text: text, when: when, commands: commands, alternatives: alternatives, location: loc)
    }

    mutating func cases() -> [Case]? {
        guard let n = count() else { return nil }
        var cases: [Case] = []
        cases.reserveCapacity(n)
        for _ in 0..<n {
            guard let id = string(), let title = localized(), let sev = string().flatMap(Case.Severity.init(rawValue:)),
                let seed = string(), let heading = string(), let also = strings(), let symptomCount = count()
            else { return nil }
            var symptoms: [Symptom] = []
            for _ in 0..<symptomCount {
                guard let sid = string(), let regex = string(), let flags = int(), let loc = location(), let hasSources = int()
                else { return nil }
                var scope = Scope()
                if hasSources == 1 {
                    guard let kinds = strings() else { return nil }
                    scope.sources = Set(kinds.compactMap(SourceKind.init(rawValue:)))
                }
                guard let ns = optional(), let pod = optional(), let container = optional(), let unit = optional() else { return nil }
                scope.namespace = ns.map(Glob.init); scope.pod = pod.map(Glob.init)
                scope.container = container.map(Glob.init); scope.unit = unit.map(Glob.init)
                symptoms.append(Symptom(id: sid, regex: regex, flags: Symptom.Flags(rawValue: UInt8(truncatingIfNeeded: flags)), scope: scope, location: loc))
            }
            guard let hasTrigger = int() else { return nil }
            var trigger: Trigger?
            if hasTrigger == 1 {
                guard let stepCount = count() else { return nil }
                var steps: [[String]] = []
                for _ in 0..<stepCount { guard let s = strings() else { return nil }; steps.append(s) }
                guard let window = int(), let lines = int(), let cnt = int(), let unless = strings() else { return nil }
                trigger = Trigger(steps: steps, window: Double(window) / 1000, windowLines: lines < 0 ? nil : lines, count: cnt, unless: unless)
            }
            guard let supersedes = strings(), let diagnosis = localized(), let fix = fix(),
                let match = strings(), let noMatch = strings(), let location = location()
            else { return nil }
            cases.append(Case(
                id: id, title: title, severity: sev, source: .init(seed: seed, heading: heading, also: also),
                symptoms: symptoms, trigger: trigger, supersedes: supersedes, diagnosis: diagnosis,
                fix: fix, examples: .init(match: match, noMatch: noMatch),
                location: location))
        }
        return cases
    }
}
