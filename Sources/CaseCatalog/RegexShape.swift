/// The shape of a symptom regex, as far as the lint needs it: a syntax tree of the PCRE2 subset
/// the catalog uses, and the analyses that tell what a multi-literal matcher can anchor on.
///
/// This is not a second regex engine. It reads literals, classes, groups, alternations,
/// quantifiers, anchors and look-around; anything it does not know (a back-reference, `\p{..}`)
/// becomes an opaque node that matches something unknown, which only makes the analyses more
/// cautious.
public struct RegexShape: Sendable {
    /// Bytes as a 256-bit set.
    struct ByteSet: Sendable, Hashable {
        var bits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

        static func == (a: ByteSet, b: ByteSet) -> Bool {
            a.bits.0 == b.bits.0 && a.bits.1 == b.bits.1 && a.bits.2 == b.bits.2 && a.bits.3 == b.bits.3
        }
        func hash(into h: inout Hasher) {
            h.combine(bits.0); h.combine(bits.1); h.combine(bits.2); h.combine(bits.3)
        }

        mutating func insert(_ b: UInt8) {
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: bits.0 |= bit
            case 1: bits.1 |= bit
            case 2: bits.2 |= bit
            default: bits.3 |= bit
            }
        }
        mutating func insert(_ r: ClosedRange<UInt8>) { for b in r { insert(b) } }
        mutating func formUnion(_ o: ByteSet) {
            bits = (bits.0 | o.bits.0, bits.1 | o.bits.1, bits.2 | o.bits.2, bits.3 | o.bits.3)
        }
        func contains(_ b: UInt8) -> Bool {
            let bit = UInt64(1) << UInt64(b & 63)
            switch b >> 6 {
            case 0: return bits.0 & bit != 0
            case 1: return bits.1 & bit != 0
            case 2: return bits.2 & bit != 0
            default: return bits.3 & bit != 0
            }
        }
        var inverted: ByteSet {
            var s = ByteSet()
            s.bits = (~bits.0, ~bits.1, ~bits.2, ~bits.3)
            return s
        }
        var count: Int {
            bits.0.nonzeroBitCount + bits.1.nonzeroBitCount + bits.2.nonzeroBitCount + bits.3.nonzeroBitCount
        }
        /// The single member, if there is exactly one.
        var single: UInt8? {
            guard count == 1 else { return nil }
            return (0...255).lazy.map(UInt8.init).first(where: contains)
        }

        static let digit: ByteSet = { var s = ByteSet(); s.insert(0x30...0x39); return s }()
        static let word: ByteSet = {
            var s = digit
            s.insert(0x41...0x5A); s.insert(0x61...0x7A); s.insert(0x5F)
            return s
        }()
        static let space: ByteSet = {
            var s = ByteSet()
            for b: UInt8 in [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20] { s.insert(b) }
            return s
        }()
        static let horizontalSpace: ByteSet = { var s = ByteSet(); s.insert(0x09); s.insert(0x20); return s }()
        static let verticalSpace: ByteSet = { var s = ByteSet(); s.insert(0x0A...0x0D); return s }()
        static let notNewline: ByteSet = { var s = ByteSet(); s.insert(0x0A); return s.inverted }()
    }

    /// A zero-width assertion.
    enum Assertion: Sendable, Hashable {
        case lineStart, lineEnd, wordBoundary, notWordBoundary, other
    }

    indirect enum Node: Sendable, Hashable {
        /// One byte.
        case byte(UInt8)
        /// One byte of a set (a class, `.`, `\s`...).
        case set(ByteSet)
        case assertion(Assertion)
        /// A look-ahead or look-behind: zero width, but PCRE2 runs what it holds.
        case lookaround([[Node]])
        /// Alternatives, each a sequence.
        case group([[Node]])
        case repetition(Node, min: Int, max: Int?)
        /// Something this reader does not model (a back-reference, a Unicode property).
        case opaque
    }

    /// The top-level alternatives, each a sequence.
    let alternatives: [[Node]]

    /// Parses `regex`; nil when it is outside the subset this reader knows (the engines, not the
    /// lint, report regexes that do not compile).
    public init?(_ regex: String, caseless: Bool = false) {
        var parser = Parser(bytes: Array(regex.utf8), caseless: caseless)
        guard let alternatives = parser.parseAlternation(), parser.atEnd else { return nil }
        self.alternatives = alternatives
    }

    // MARK: - Analyses

    /// The longest byte string that every match contains (empty when there is none). Caseless
    /// letters count: a multi-literal matcher looks for them case-insensitively just as well.
    public var requiredLiteral: [UInt8] {
        Self.info(ofAlternatives: alternatives).required
    }

    /// Literals of which every match contains at least one: one literal when all matches share
    /// it, one per alternative of an alternation such as `归档插件文件失败|Failed to archive atom file`.
    /// Empty when some match need contain none. A multi-literal matcher looks for all of them;
    /// the shortest decides how often it stops for nothing.
    public var requiredLiterals: [[UInt8]] {
        Self.info(ofAlternatives: alternatives).factors
    }

    /// The length of the shortest of `requiredLiterals` (0 when there are none).
    public var requiredLiteralLength: Int {
        Self.quality(requiredLiterals)
    }

    /// True when some top-level alternative starts, without a `^` before it, with `.*`, `.*?`,
    /// `.+` or `.+?`.
    public var hasLeadingDotStar: Bool {
        alternatives.contains { seq in
            for node in seq {
                switch node {
                case .assertion(.lineStart): return false
                case .assertion, .lookaround: continue
                case .repetition(.set(let s), _, nil): return s == .notNewline || s.count == 256
                default: return false
                }
            }
            return false
        }
    }

    /// True when the regex starts with an alternation of a line start (or nothing) and a class,
    /// as `(?:^|\s)`: every byte of the class is a possible start of a match.
    public var hasLineStartAlternation: Bool {
        alternatives.contains { seq in
            guard case .group(let alts)? = seq.first(where: { if case .lookaround = $0 { false } else { true } }),
                alts.count > 1
            else { return false }
            let anchored = alts.contains { $0.isEmpty || $0.first == .assertion(.lineStart) }
            let other = alts.contains { !$0.isEmpty && $0.first != .assertion(.lineStart) }
            return anchored && other
        }
    }

    /// True when a repeated group's body repeats by itself too, as in `(x+)+` or `(?:a*b?)*`:
    /// the same bytes can be split between the two loops in many ways, which a backtracking
    /// engine tries one by one when the rest fails.
    public var hasNestedQuantifier: Bool {
        alternatives.contains { $0.contains(where: Self.nestsQuantifiers) }
    }

    // MARK: - Helpers

    private static func nestsQuantifiers(_ node: Node) -> Bool {
        switch node {
        case .byte, .set, .assertion, .opaque:
            return false
        case .group(let alts), .lookaround(let alts):
            return alts.contains { $0.contains(where: nestsQuantifiers) }
        case .repetition(let body, _, let max):
            if max == nil || max! > 1, repeatsByItself(body) { return true }
            return nestsQuantifiers(body)
        }
    }

    /// The node is, up to parts that may match nothing, an unbounded repetition.
    private static func repeatsByItself(_ node: Node) -> Bool {
        switch node {
        case .repetition(_, _, nil):
            return true
        case .group(let alts):
            return alts.contains { seq in
                seq.contains { child in
                    guard repeatsByItself(child) else { return false }
                    return seq.allSatisfy { $0 == child || minLength($0) == 0 }
                }
            }
        default:
            return false
        }
    }

    static func minLength(_ node: Node) -> Int {
        switch node {
        case .byte, .set: return 1
        case .assertion, .lookaround, .opaque: return 0
        case .group(let alts): return alts.map { $0.reduce(0) { $0 + minLength($1) } }.min() ?? 0
        case .repetition(let body, let min, _): return min * minLength(body)
        }
    }

    /// What every match of a node is known to contain.
    struct Info {
        /// The node always matches exactly these bytes.
        var exact: [UInt8]?
        /// Every match starts with these bytes.
        var prefix: [UInt8] = []
        /// Every match ends with these bytes.
        var suffix: [UInt8] = []
        /// Every match contains these bytes.
        var required: [UInt8] = []
        /// Every match contains one of these.
        var factors: [[UInt8]] = []

        static func exactly(_ bytes: [UInt8]) -> Info {
            Info(exact: bytes, prefix: bytes, suffix: bytes, required: bytes, factors: bytes.isEmpty ? [] : [bytes])
        }
        static let unknown = Info(exact: nil)

        func withExact(_ e: [UInt8]?) -> Info {
            var i = self
            i.exact = e
            return i
        }
    }

    /// The length of a literal set's shortest member; 0 for the empty set (no guarantee).
    static func quality(_ factors: [[UInt8]]) -> Int {
        factors.map(\.count).min() ?? 0
    }

    /// The better of two literal sets: the longer shortest member, then the fewer members.
    private static func better(_ a: [[UInt8]], _ b: [[UInt8]]) -> [[UInt8]] {
        let qa = quality(a), qb = quality(b)
        if qa != qb { return qa > qb ? a : b }
        return a.count <= b.count ? a : b
    }

    private static func longest(_ candidates: [UInt8]...) -> [UInt8] {
        candidates.max { $0.count < $1.count } ?? []
    }

    static func info(_ node: Node) -> Info {
        switch node {
        case .byte(let b):
            return .exactly([b])
        case .set(let s):
            return s.single.map { .exactly([$0]) } ?? .unknown
        case .assertion, .lookaround:
            // Zero width: what a look-around holds is not part of the match, and Hyperscan
            // (prefilter mode) leaves it to PCRE2.
            return .exactly([])
        case .opaque:
            return .unknown
        case .group(let alts):
            return info(ofAlternatives: alts)
        case .repetition(let body, let min, let max):
            if max == 0 { return .exactly([]) }
            if min == 0 { return .unknown }
            let inner = info(body)
            if let e = inner.exact {
                let atLeast = Array([[UInt8]](repeating: e, count: min).joined())
                return max == min
                    ? .exactly(atLeast)
                    : Info(exact: nil, prefix: atLeast, suffix: atLeast, required: atLeast, factors: [atLeast])
            }
            return inner.withExact(nil)
        }
    }

    static func info(ofSequence seq: [Node]) -> Info {
        var exact: [UInt8]? = []
        var prefix: [UInt8] = []
        var prefixOpen = true
        var run: [UInt8] = []
        var best: [UInt8] = []
        var factors: [[UInt8]] = []
        for node in seq {
            let i = info(node)
            if let e = i.exact {
                run += e
                if prefixOpen { prefix += e }
                exact? += e
            } else {
                exact = nil
                if prefixOpen { prefix += i.prefix; prefixOpen = false }
                best = longest(best, run + i.prefix, i.required)
                factors = better(factors, i.factors)
                run = i.suffix
            }
        }
        best = longest(best, run)
        if let exact { return .exactly(exact) }
        return Info(exact: nil, prefix: prefix, suffix: run, required: best, factors: better(best.isEmpty ? [] : [best], factors))
    }

    static func info(ofAlternatives alts: [[Node]]) -> Info {
        let infos = alts.map(info(ofSequence:))
        guard let first = infos.first else { return .exactly([]) }
        if infos.count == 1 { return first }
        if let e = first.exact, infos.allSatisfy({ $0.exact == e }) { return .exactly(e) }
        var prefix = first.prefix
        var suffix = first.suffix
        for i in infos.dropFirst() {
            prefix = Array(zip(prefix, i.prefix).prefix { $0 == $1 }.map(\.0))
            let common = zip(suffix.reversed(), i.suffix.reversed()).prefix { $0 == $1 }.count
            suffix = Array(suffix.suffix(common))
        }
        // The longest literal that every alternative's required literal contains.
        let shared = commonSubstring(infos.map(\.required))
        let required = longest(prefix, suffix, shared)
        // Or one literal per alternative (none if one alternative has none).
        let perAlternative = infos.contains { $0.factors.isEmpty } ? [] : Array(Set(infos.flatMap(\.factors))).sorted { $0.lexicographicallyPrecedes($1) }
        return Info(
            exact: nil, prefix: prefix, suffix: suffix, required: required,
            factors: better(required.isEmpty ? [] : [required], perAlternative))
    }

    /// The longest byte string that all of `strings` contain.
    private static func commonSubstring(_ strings: [[UInt8]]) -> [UInt8] {
        guard let shortest = strings.min(by: { $0.count < $1.count }), !shortest.isEmpty else { return [] }
        for length in stride(from: shortest.count, through: 1, by: -1) {
            for start in 0...(shortest.count - length) {
                let candidate = shortest[start..<start + length]
                if strings.allSatisfy({ contains($0, candidate) }) { return Array(candidate) }
            }
        }
        return []
    }

    private static func contains(_ haystack: [UInt8], _ needle: ArraySlice<UInt8>) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return true
        }
        return false
    }
}

// MARK: - Parser

extension RegexShape {
    struct Parser {
        let bytes: [UInt8]
        var at = 0
        var caseless: Bool

        init(bytes: [UInt8], caseless: Bool) {
            self.bytes = bytes
            self.caseless = caseless
        }

        var atEnd: Bool { at == bytes.count }

        private func peek(_ offset: Int = 0) -> UInt8? {
            at + offset < bytes.count ? bytes[at + offset] : nil
        }

        private func isByte(_ offset: Int, _ c: Character) -> Bool {
            peek(offset) == c.asciiValue
        }

        mutating func parseAlternation() -> [[Node]]? {
            var alternatives: [[Node]] = []
            let savedCaseless = caseless
            while true {
                guard let seq = parseSequence() else { return nil }
                alternatives.append(seq)
                if isByte(0, "|") {
                    at += 1
                    continue
                }
                break
            }
            caseless = savedCaseless
            return alternatives
        }

        private mutating func parseSequence() -> [Node]? {
            var seq: [Node] = []
            while let c = peek(), c != UInt8(ascii: "|"), c != UInt8(ascii: ")") {
                guard let atom = parseAtom() else { return nil }
                guard let atoms = atom else { continue }  // a comment or an inline option
                var node = atoms
                if let (min, max) = parseQuantifier() {
                    // A quantifier after a literal run applies to its last byte only.
                    node = .repetition(node, min: min, max: max)
                }
                seq.append(node)
            }
            return seq
        }

        /// `{n}`, `{n,}`, `{n,m}`, `*`, `+`, `?`, each optionally lazy or possessive.
        private mutating func parseQuantifier() -> (Int, Int?)? {
            guard let c = peek() else { return nil }
            var result: (Int, Int?)
            switch c {
            case UInt8(ascii: "*"): result = (0, nil); at += 1
            case UInt8(ascii: "+"): result = (1, nil); at += 1
            case UInt8(ascii: "?"): result = (0, 1); at += 1
            case UInt8(ascii: "{"):
                var i = at + 1
                func number() -> Int? {
                    var n: Int? = nil
                    while i < bytes.count, (0x30...0x39).contains(bytes[i]) {
                        n = (n ?? 0) * 10 + Int(bytes[i] - 0x30)
                        i += 1
                    }
                    return n
                }
                guard let min = number() else { return nil }
                var max: Int? = min
                if i < bytes.count, bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    max = number()
                }
                guard i < bytes.count, bytes[i] == UInt8(ascii: "}") else { return nil }
                at = i + 1
                result = (min, max)
            default:
                return nil
            }
            if isByte(0, "?") || isByte(0, "+") { at += 1 }
            return result
        }

        /// A literal byte; a caseless letter is kept as its lower case: the literal analysis is about
        /// presence, and Hyperscan finds caseless literals as readily as others.
        private func literal(_ b: UInt8) -> Node {
            caseless ? .byte(lowered(b) ?? b) : .byte(b)
        }

        private func lowered(_ b: UInt8) -> UInt8? {
            if (0x41...0x5A).contains(b) { return b + 0x20 }
            if (0x61...0x7A).contains(b) { return b }
            return nil
        }

        /// One atom; `.some(nil)` for something that matches nothing (a comment, `(?i)`), nil on
        /// a syntax this reader does not know.
        private mutating func parseAtom() -> Node?? {
            guard let c = peek() else { return nil }
            at += 1
            switch c {
            case UInt8(ascii: "."): return .set(.notNewline)
            case UInt8(ascii: "^"): return .assertion(.lineStart)
            case UInt8(ascii: "$"): return .assertion(.lineEnd)
            case UInt8(ascii: "["): return parseClass().map { .set($0) }
            case UInt8(ascii: "("): return parseGroup()
            case UInt8(ascii: "\\"): return parseEscape()
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"): return nil
            default:
                return literal(c)
            }
        }

        private mutating func parseGroup() -> Node?? {
            var isLookaround = false
            if isByte(0, "?") {
                at += 1
                guard let k = peek() else { return nil }
                switch k {
                case UInt8(ascii: ":"), UInt8(ascii: ">"), UInt8(ascii: "|"):
                    at += 1
                case UInt8(ascii: "="), UInt8(ascii: "!"):
                    at += 1
                    isLookaround = true
                case UInt8(ascii: "#"):
                    while let b = peek(), b != UInt8(ascii: ")") { at += 1 }
                    guard isByte(0, ")") else { return nil }
                    at += 1
                    return .some(nil)
                case UInt8(ascii: "<") where isByte(1, "=") || isByte(1, "!"):
                    at += 2
                    isLookaround = true
                case UInt8(ascii: "<"), UInt8(ascii: "'"), UInt8(ascii: "P"):
                    // a named group: (?<name>...), (?'name'...), (?P<name>...)
                    if k == UInt8(ascii: "P") { at += 1 }
                    let close = peek() == UInt8(ascii: "'") ? UInt8(ascii: "'") : UInt8(ascii: ">")
                    at += 1
                    while let b = peek(), b != close { at += 1 }
                    guard peek() == close else { return nil }
                    at += 1
                default:
                    // inline options: (?i) (?-i) (?i:...)
                    var on = true
                    var newCaseless = caseless
                    while let b = peek(), b != UInt8(ascii: ")"), b != UInt8(ascii: ":") {
                        switch b {
                        case UInt8(ascii: "-"): on = false
                        case UInt8(ascii: "i"): newCaseless = on
                        case UInt8(ascii: "m"), UInt8(ascii: "s"), UInt8(ascii: "x"), UInt8(ascii: "n"), UInt8(ascii: "U"), UInt8(ascii: "J"): break
                        default: return nil
                        }
                        at += 1
                    }
                    guard let end = peek() else { return nil }
                    at += 1
                    if end == UInt8(ascii: ")") {
                        caseless = newCaseless
                        return .some(nil)
                    }
                    let outer = caseless
                    caseless = newCaseless
                    guard let alts = parseAlternation(), isByte(0, ")") else { return nil }
                    caseless = outer
                    at += 1
                    return .group(alts)
                }
            }
            guard let alts = parseAlternation(), isByte(0, ")") else { return nil }
            at += 1
            return isLookaround ? .lookaround(alts) : .group(alts)
        }

        private mutating func parseEscape() -> Node?? {
            guard let e = peek() else { return nil }
            at += 1
            switch e {
            case UInt8(ascii: "d"): return .set(.digit)
            case UInt8(ascii: "D"): return .set(ByteSet.digit.inverted)
            case UInt8(ascii: "w"): return .set(.word)
            case UInt8(ascii: "W"): return .set(ByteSet.word.inverted)
            case UInt8(ascii: "s"): return .set(.space)
            case UInt8(ascii: "S"): return .set(ByteSet.space.inverted)
            case UInt8(ascii: "h"): return .set(.horizontalSpace)
            case UInt8(ascii: "H"): return .set(ByteSet.horizontalSpace.inverted)
            case UInt8(ascii: "v"): return .set(.verticalSpace)
            case UInt8(ascii: "V"): return .set(ByteSet.verticalSpace.inverted)
            case UInt8(ascii: "N"): return .set(.notNewline)
            case UInt8(ascii: "R"): return .opaque
            case UInt8(ascii: "b"): return .assertion(.wordBoundary)
            case UInt8(ascii: "B"): return .assertion(.notWordBoundary)
            case UInt8(ascii: "A"), UInt8(ascii: "z"), UInt8(ascii: "Z"), UInt8(ascii: "G"), UInt8(ascii: "K"):
                return .assertion(.other)
            case UInt8(ascii: "n"): return .byte(0x0A)
            case UInt8(ascii: "t"): return .byte(0x09)
            case UInt8(ascii: "r"): return .byte(0x0D)
            case UInt8(ascii: "f"): return .byte(0x0C)
            case UInt8(ascii: "e"): return .byte(0x1B)
            case UInt8(ascii: "a"): return .byte(0x07)
            case UInt8(ascii: "x"):
                return parseHex().map { .byte($0) }
            case UInt8(ascii: "p"), UInt8(ascii: "P"), UInt8(ascii: "g"), UInt8(ascii: "k"):
                // a property or a back-reference: skip its name
                if let open = peek(), open == UInt8(ascii: "{") || open == UInt8(ascii: "<") || open == UInt8(ascii: "'") {
                    let close: UInt8 = open == UInt8(ascii: "{") ? UInt8(ascii: "}") : open == UInt8(ascii: "<") ? UInt8(ascii: ">") : open
                    while let b = peek(), b != close { at += 1 }
                    guard peek() == close else { return nil }
                    at += 1
                } else if peek() != nil {
                    at += 1
                }
                return .opaque
            case UInt8(ascii: "Q"):
                var run: [Node] = []
                while at < bytes.count, !(isByte(0, "\\") && isByte(1, "E")) {
                    run.append(literal(bytes[at]))
                    at += 1
                }
                if !atEnd { at += 2 }
                return .group([run])
            case UInt8(ascii: "E"):
                return .some(nil)
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if e == UInt8(ascii: "0") {
                    var v = 0
                    var n = 0
                    while n < 2, let d = peek(), (0x30...0x37).contains(d) { v = v * 8 + Int(d - 0x30); at += 1; n += 1 }
                    return .byte(UInt8(v))
                }
                while let d = peek(), (0x30...0x39).contains(d) { at += 1 }
                return .opaque
            default:
                if lowered(e) != nil { return nil }  // an escape this reader does not know
                return literal(e)
            }
        }

        private mutating func parseHex() -> UInt8? {
            func hex(_ b: UInt8) -> Int? {
                switch b {
                case 0x30...0x39: Int(b - 0x30)
                case 0x41...0x46: Int(b - 0x41 + 10)
                case 0x61...0x66: Int(b - 0x61 + 10)
                default: nil
                }
            }
            if isByte(0, "{") {
                at += 1
                var v = 0
                while let b = peek(), let d = hex(b) { v = v * 16 + d; at += 1 }
                guard isByte(0, "}"), v < 256 else { return nil }
                at += 1
                return UInt8(v)
            }
            var v = 0
            var n = 0
            while n < 2, let b = peek(), let d = hex(b) { v = v * 16 + d; at += 1; n += 1 }
            return UInt8(v)
        }

        /// After `[`: the class up to its `]`.
        private mutating func parseClass() -> ByteSet? {
            var set = ByteSet()
            var negated = false
            if isByte(0, "^") { negated = true; at += 1 }
            var first = true
            var previous: UInt8? = nil
            while let c = peek() {
                if c == UInt8(ascii: "]"), !first { at += 1; break }
                first = false
                at += 1
                var member: UInt8? = nil
                switch c {
                case UInt8(ascii: "["):
                    if isByte(0, ":") {
                        // [:alpha:] and friends: approximate by what the catalog uses
                        guard let end = (at..<bytes.count).first(where: { bytes[$0] == UInt8(ascii: "]") }) else { return nil }
                        let name = String(decoding: bytes[(at + 1)..<end], as: UTF8.self)
                        at = end + 1
                        switch name.trimmingCharacters(in: [":", "^"]) {
                        case "digit": set.formUnion(.digit)
                        case "space": set.formUnion(.space)
                        case "alpha": set.insert(0x41...0x5A); set.insert(0x61...0x7A)
                        case "alnum": set.formUnion(.digit); set.insert(0x41...0x5A); set.insert(0x61...0x7A)
                        case "word": set.formUnion(.word)
                        case "upper": set.insert(0x41...0x5A)
                        case "lower": set.insert(0x61...0x7A)
                        case "xdigit": set.formUnion(.digit); set.insert(0x41...0x46); set.insert(0x61...0x66)
                        default: set.formUnion(ByteSet().inverted)
                        }
                        previous = nil
                        continue
                    }
                    member = c
                case UInt8(ascii: "\\"):
                    guard let e = peek() else { return nil }
                    at += 1
                    switch e {
                    case UInt8(ascii: "d"): set.formUnion(.digit); previous = nil; continue
                    case UInt8(ascii: "D"): set.formUnion(ByteSet.digit.inverted); previous = nil; continue
                    case UInt8(ascii: "w"): set.formUnion(.word); previous = nil; continue
                    case UInt8(ascii: "W"): set.formUnion(ByteSet.word.inverted); previous = nil; continue
                    case UInt8(ascii: "s"): set.formUnion(.space); previous = nil; continue
                    case UInt8(ascii: "S"): set.formUnion(ByteSet.space.inverted); previous = nil; continue
                    case UInt8(ascii: "h"): set.formUnion(.horizontalSpace); previous = nil; continue
                    case UInt8(ascii: "v"): set.formUnion(.verticalSpace); previous = nil; continue
                    case UInt8(ascii: "n"): member = 0x0A
                    case UInt8(ascii: "t"): member = 0x09
                    case UInt8(ascii: "r"): member = 0x0D
                    case UInt8(ascii: "f"): member = 0x0C
                    case UInt8(ascii: "e"): member = 0x1B
                    case UInt8(ascii: "x"):
                        guard let v = parseHex() else { return nil }
                        member = v
                    default:
                        if lowered(e) != nil { return nil }
                        member = e
                    }
                case UInt8(ascii: "-"):
                    if let low = previous, let high = peek(), high != UInt8(ascii: "]") {
                        var h = high
                        at += 1
                        if high == UInt8(ascii: "\\") {
                            guard let e = peek() else { return nil }
                            at += 1
                            if e == UInt8(ascii: "x") {
                                guard let v = parseHex() else { return nil }
                                h = v
                            } else {
                                h = e
                            }
                        }
                        guard low <= h else { return nil }
                        set.insert(low...h)
                        if caseless { for b in low...h { addOtherCase(b, to: &set) } }
                        previous = nil
                        continue
                    }
                    member = c
                default:
                    member = c
                }
                if let m = member {
                    set.insert(m)
                    if caseless { addOtherCase(m, to: &set) }
                    previous = m
                }
            }
            return negated ? set.inverted : set
        }

        private func addOtherCase(_ b: UInt8, to set: inout ByteSet) {
            if (0x41...0x5A).contains(b) { set.insert(b + 0x20) }
            if (0x61...0x7A).contains(b) { set.insert(b - 0x20) }
        }
    }
}
