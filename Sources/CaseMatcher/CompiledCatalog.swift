import CVectorscan
import CaseCatalog
import Foundation

/// The whole catalog compiled into one Hyperscan-API block-mode database: one pattern id per
/// symptom. Immutable and shared by every scanning task; each task scans with its own
/// `MatchScratch`.
public final class CompiledCatalog: @unchecked Sendable {
    /// One symptom as the matcher sees it.
    public struct Pattern: Sendable {
        /// The case, or -1 for a stream value.
        public var caseIndex: Int
        /// The symptom within the case, or the index into `streamValues`.
        public var symptomIndex: Int
        public var regex: String
        public var caseless: Bool
        /// Compiled with HS_FLAG_PREFILTER: Hyperscan may over-report; PCRE2 decides.
        public var prefiltered: Bool
        public var scope: Scope

        /// A stream value, not a symptom.
        public var isStreamValue: Bool { caseIndex < 0 }
    }

    /// The most symptoms a catalog may have: the hit buffer packs a report as
    /// `end offset << 24 | pattern id`, so an id must fit in 24 bits.
    public static let maxPatterns = 1 << 24 - 1
    /// The most bytes `MatchScratch.scan` takes in one chunk: `hs_scan` takes a 32-bit length.
    /// This also keeps every end offset below 2^40, so `end << 24` cannot overflow the 64-bit
    /// packed report.
    public static let maxChunkBytes = Int(UInt32.max)

    public let catalog: Catalog
    /// The symptoms of every case in catalog order, then the stream values.
    public let patterns: [Pattern]
    public let streamValues: [StreamValue]
    /// True when the database came from the on-disk cache.
    public let loadedFromCache: Bool
    let database: OpaquePointer?

    /// Compiles the catalog's symptoms. With a `cacheDirectory`, a database compiled earlier
    /// from the same patterns by the same library version is loaded instead, and a fresh one is
    /// saved there.
    public init(catalog: Catalog, streamValues: [StreamValue] = StreamValue.builtin, cacheDirectory: String? = nil) throws(CatalogErrors) {
        self.catalog = catalog
        self.streamValues = streamValues
        var patterns: [Pattern] = []
        for (ci, c) in catalog.cases.enumerated() {
            for (si, s) in c.symptoms.enumerated() {
                patterns.append(Pattern(
                    caseIndex: ci, symptomIndex: si, regex: s.regex,
                    caseless: s.flags.contains(.caseless),
                    prefiltered: Self.needsPrefilter(s.regex), scope: s.scope))
            }
        }
        // Only when there are symptoms: stream values alone raise nothing.
        if !patterns.isEmpty {
            for (i, v) in streamValues.enumerated() {
                patterns.append(Pattern(
                    caseIndex: -1, symptomIndex: i, regex: v.regex, caseless: false,
                    prefiltered: Self.needsPrefilter(v.regex), scope: Scope()))
            }
        }
        try Self.checkPatternCount(patterns.count)
        if patterns.isEmpty {
            self.patterns = []
            self.database = nil
            self.loadedFromCache = false
            return
        }
        let cache = cacheDirectory.map { DatabaseCache(directory: $0) }
        if let cache, let (db, prefilter) = cache.load(key: Self.cacheKey(patterns), patterns: patterns.count) {
            for i in patterns.indices { patterns[i].prefiltered = prefilter[i] }
            self.patterns = patterns
            self.database = db
            self.loadedFromCache = true
            return
        }
        // Validate every regex with PCRE2 first: its errors name the offset and are the user's
        // dialect. Then compile the database, falling back to prefilter mode for a pattern
        // Hyperscan cannot take exactly.
        var errors: [CatalogError] = []
        for p in patterns {
            do {
                _ = try PCRE2Pattern(p.regex, caseless: p.caseless, jit: false)
            } catch {
                errors.append(Self.error(for: p, in: catalog, "regex does not compile: \(error)"))
            }
        }
        guard errors.isEmpty else { throw CatalogErrors(errors) }
        while true {
            do {
                let db = try Self.compile(patterns)
                if let cache { cache.store(db, key: Self.cacheKey(patterns), prefilter: patterns.map(\.prefiltered)) }
                self.patterns = patterns
                self.database = db
                self.loadedFromCache = false
                return
            } catch {
                guard let i = error.expression, i < patterns.count else {
                    throw CatalogErrors([CatalogError(
                        .invalidPattern, at: SourceLocation(file: "<catalog>", line: 0),
                        "Failed to compile the pattern database: \(error)")])
                }
                if !patterns[i].prefiltered && !Self.isFinal(error.message) {
                    patterns[i].prefiltered = true
                    continue
                }
                throw CatalogErrors([Self.error(for: patterns[i], in: catalog, "Hyperscan cannot compile this regex: \(error.message)")])
            }
        }
    }

    deinit { if let database { hs_free_database(database) } }

    /// Refuses a catalog of more than `limit` symptoms.
    static func checkPatternCount(_ count: Int, limit: Int = maxPatterns) throws(CatalogErrors) {
        guard count > limit else { return }
        throw CatalogErrors([CatalogError(
            .tooLarge, at: SourceLocation(file: "<catalog>", line: 0),
            "too many symptoms: \(grouped(count)) (at most \(grouped(limit)))")])
    }

    /// 16777215 as "16,777,215", whatever the locale (`n` >= 0).
    private static func grouped(_ n: Int) -> String {
        var digits = String(n)
        var i = digits.count - 3
        while i > 0 {
            digits.insert(",", at: digits.index(digits.startIndex, offsetBy: i))
            i -= 3
        }
        return digits
    }

    /// Errors no prefilter mode can cure.
    private static func isFinal(_ message: String) -> Bool {
        message.contains("empty") || message.contains("Invalid flag")
    }

    private static func error(for p: Pattern, in catalog: Catalog, _ message: String) -> CatalogError {
        guard !p.isStreamValue else {
            return CatalogError(.invalidPattern, at: SourceLocation(file: "<built-in stream values>", line: p.symptomIndex), message)
        }
        let c = catalog.cases[p.caseIndex]
        let s = c.symptoms[p.symptomIndex]
        return CatalogError(
            .invalidPattern, at: s.location, field: "symptoms[\(p.symptomIndex)].regex (\(s.id))",
            caseID: c.id, message)
    }

    /// Back-references and look-around are outside what Hyperscan matches exactly.
    static func needsPrefilter(_ regex: String) -> Bool {
        let b = Array(regex.utf8)
        var i = 0
        while i + 1 < b.count {
            if b[i] == UInt8(ascii: "\\") {
                let n = b[i + 1]
                if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(n) || n == UInt8(ascii: "g") || n == UInt8(ascii: "k") {
                    return true
                }
                i += 2
                continue
            }
            if b[i] == UInt8(ascii: "("), b[i + 1] == UInt8(ascii: "?"), i + 2 < b.count {
                let n = b[i + 2]
                if n == UInt8(ascii: "=") || n == UInt8(ascii: "!") { return true }
                if n == UInt8(ascii: "<"), i + 3 < b.count, b[i + 3] == UInt8(ascii: "=") || b[i + 3] == UInt8(ascii: "!") {
                    return true
                }
            }
            i += 1
        }
        return false
    }

    static func flags(_ p: Pattern) -> UInt32 {
        var flags = UInt32(HS_FLAG_MULTILINE)
        if p.caseless { flags |= UInt32(HS_FLAG_CASELESS) }
        if p.prefiltered { flags |= UInt32(HS_FLAG_PREFILTER) }
        return flags
    }

    /// The corresponding C function is `hs_compile_multi`.
    static func compile(_ patterns: [Pattern]) throws(VectorscanError) -> OpaquePointer {
        let cStrings = patterns.map { strdup($0.regex) }
        defer { cStrings.forEach { free($0) } }
        var expressions = cStrings.map { UnsafePointer($0) }
        var flags = patterns.map(flags)
        var ids = (0..<patterns.count).map { UInt32($0) }
        var db: OpaquePointer? = nil
        var compileError: UnsafeMutablePointer<hs_compile_error_t>? = nil
        let rc = hs_compile_multi(&expressions, &flags, &ids, UInt32(patterns.count), UInt32(HS_MODE_BLOCK), nil, &db, &compileError)
        if rc != HS_SUCCESS {
            var message = "Failed to compile the pattern database"
            var expression: Int? = nil
            if let compileError {
                message = String(cString: compileError.pointee.message)
                if compileError.pointee.expression >= 0 { expression = Int(compileError.pointee.expression) }
                hs_free_compile_error(compileError)
            }
            throw VectorscanError(.init(rc), message, expression: expression)
        }
        return db!
    }

    /// Everything that decides the compiled bytes and the prefilter flags stored beside them:
    /// casewatch (which decides the flags), both libraries (PCRE2 validated the patterns and
    /// confirms what a prefiltered one reports) and the patterns with their flags.
    static func cacheKey(_ patterns: [Pattern]) -> [UInt8] {
        var key = "casewatch-db-2\ncasewatch \(CasewatchVersion.string)\n\(vectorscanVersion)\npcre2 \(pcre2Version)\n"
        #if arch(x86_64)
        key += "x86_64\n"
        #elseif arch(arm64)
        key += "arm64\n"
        #endif
        for p in patterns {
            key += "\(p.caseless ? "i" : "-")\(p.regex.utf8.count):\(p.regex)\n"
        }
        return Array(key.utf8)
    }

    /// Allocates a scratch space for one scanning task.
    public func makeScratch() throws(VectorscanError) -> MatchScratch {
        try MatchScratch(self)
    }
}
