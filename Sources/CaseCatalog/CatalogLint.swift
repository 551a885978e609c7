/// Checks a catalog for shapes that load and match correctly but cost: regexes that make the one
/// Hyperscan database slow for every line of every log, or PCRE2 slow on the lines they hit.
///
/// Each rule is a named function over one case; `lint` runs every rule over every case and drops
/// the findings the allow-list explains. A new rule (on fix commands, on examples...) is one more
/// function and one more entry in `rules`.
public struct CatalogLint: Sendable {
    /// One rule: a stable kebab-case id (what `casewatch cases lint` prints and the allow-list
    /// names) and the function that checks one case.
    public struct Rule: Sendable {
        public var id: String
        /// One line for humans: what the rule looks for.
        public var summary: String
        public var check: @Sendable (Case) -> [Issue]

        public init(id: String, summary: String, check: @escaping @Sendable (Case) -> [Issue]) {
            self.id = id
            self.summary = summary
            self.check = check
        }
    }

    /// What a rule found, before `lint` names the case and the rule.
    public struct Issue: Sendable, Hashable {
        public var symptomID: String?
        public var location: SourceLocation
        public var message: String

        public init(symptomID: String? = nil, location: SourceLocation, message: String) {
            self.symptomID = symptomID
            self.location = location
            self.message = message
        }
    }

    /// A finding the catalog keeps on purpose, with the reason. The catalog format has no place
    /// for lint settings, so they live here, next to the rules.
    public struct Allowance: Sendable, Hashable {
        public var caseID: String
        public var rule: String
        /// Only this symptom; nil: every symptom of the case.
        public var symptomID: String?
        public var reason: String

        public init(caseID: String, rule: String, symptomID: String? = nil, reason: String) {
            self.caseID = caseID
            self.rule = rule
            self.symptomID = symptomID
            self.reason = reason
        }

        func allows(_ f: LintFinding) -> Bool {
            f.caseID == caseID && f.rule == rule && (symptomID == nil || f.symptomID == symptomID)
        }
    }

    /// The rules, in the order their findings are printed.
    public static let rules: [Rule] = costRules

    /// Regex shapes that slow the scan of every line, or PCRE2 on the lines that hit.
    public static let costRules: [Rule] = [
        Rule(
            id: "no-required-literal",
            summary: "the regex has no literal of 3 bytes or more that every match contains (one per alternative counts)",
            check: noRequiredLiteral),
        Rule(
            id: "leading-dot-star",
            summary: "the regex starts with an unanchored .* or .*?",
            check: leadingDotStar),
        Rule(
            id: "line-start-alternation",
            summary: "the regex starts with (?:^|\\s) or a like alternation of a line start and a class",
            check: lineStartAlternation),
        Rule(
            id: "nested-quantifier",
            summary: "a repeated group repeats by itself too, as (x+)+",
            check: nestedQuantifier),
    ]

    /// Findings of the built-in catalog that are there on purpose.
    public static let allowed: [Allowance] = []

    /// Every finding of every rule on every case, less those `allowed` explains, in catalog
    /// order (a case's findings by line).
    public static func lint(_ catalog: Catalog) -> [LintFinding] {
        lint(catalog, rules: rules, allowed: allowed)
    }

    public static func lint(_ catalog: Catalog, rules: [Rule], allowed: [Allowance]) -> [LintFinding] {
        var findings: [LintFinding] = []
        for c in catalog.cases {
            var found: [LintFinding] = []
            for rule in rules {
                for issue in rule.check(c) {
                    let f = LintFinding(
                        caseID: c.id, symptomID: issue.symptomID, location: issue.location, rule: rule.id,
                        message: issue.message)
                    if !allowed.contains(where: { $0.allows(f) }) { found.append(f) }
                }
            }
            // In file order; the rules' order among the findings of one line (the sort is stable).
            findings += found.enumerated().sorted { ($0.element.location.line, $0.offset) < ($1.element.location.line, $1.offset) }
                .map(\.element)
        }
        return findings
    }

    /// The ids of the cost rules one regex breaks, for people trying a regex out (and tests).
    public static func costRuleIDs(regex: String, caseless: Bool = false) -> [String] {
        let c = Case(
            id: "regex", title: Localized(en: "", zh: ""), severity: .info, source: .init(seed: "", heading: ""),
            symptoms: [Symptom(id: "regex", regex: regex, flags: caseless ? .caseless : [])],
            diagnosis: Localized(en: "", zh: ""), fix: .init(text: Localized(en: "", zh: "")))
        return costRules.filter { !$0.check(c).isEmpty }.map(\.id)
    }

    // MARK: - Cost rules

    /// Runs `check` on the shape of every symptom regex the reader understands.
    private static func eachSymptom(_ c: Case, _ check: (RegexShape) -> String?) -> [Issue] {
        c.symptoms.compactMap { s in
            guard let shape = RegexShape(s.regex, caseless: s.flags.contains(.caseless)), let message = check(shape)
            else { return nil }
            return Issue(symptomID: s.id, location: s.location, message: message)
        }
    }

    @Sendable static func noRequiredLiteral(_ c: Case) -> [Issue] {
        eachSymptom(c) { shape in
            guard shape.requiredLiteralLength < 3 else { return nil }
            let best = shape.requiredLiterals.map { "\"\(String(decoding: $0, as: UTF8.self))\"" }
            let found = best.isEmpty ? "none" : "only " + best.joined(separator: " or ")
            return "no literal of 3 bytes or more that every match contains (one per alternative counts; found \(found)): "
                + "Hyperscan has nothing to look for first and runs an automaton over every byte of every line; "
                + "name the message's fixed words"
        }
    }

    @Sendable static func leadingDotStar(_ c: Case) -> [Issue] {
        eachSymptom(c) { shape in
            guard shape.hasLeadingDotStar else { return nil }
            return "starts with an unanchored .* or .*?: it changes no match (a match may start anywhere), only keeps "
                + "PCRE2 from skipping ahead to the message's first bytes; drop it"
        }
    }

    @Sendable static func lineStartAlternation(_ c: Case) -> [Issue] {
        eachSymptom(c) { shape in
            guard shape.hasLineStartAlternation else { return nil }
            return "starts with an alternation of a line start and a class, as (?:^|\\s): a match may start at any "
                + "space, so neither engine can skip ahead to the message; (?<!\\S) matches the same lines with the "
                + "same captures, without the alternation"
        }
    }

    @Sendable static func nestedQuantifier(_ c: Case) -> [Issue] {
        eachSymptom(c) { shape in
            guard shape.hasNestedQuantifier else { return nil }
            return "a repeated group repeats by itself too, as (x+)+: PCRE2 tries every split of the bytes between "
                + "the two loops before it gives up on a line; repeat once"
        }
    }
}
