import CaseCatalog
import Foundation
import TestSupport
import Testing

@Suite struct CatalogLintTests {
    struct Shape: CustomStringConvertible, Sendable {
        var regex: String
        var caseless = false
        var rules: [String]
        var description: String { regex }
    }

    /// Regexes and the cost rules each breaks, in rule order.
    static let shapes: [Shape] = [
        // clean: a distinctive literal, wherever it is
        Shape(regex: "Pre-Release-Hook failed, please check logs for more details", rules: []),
        Shape(regex: #"(?<release>[^"]+)" has no deployed releases\s*$"#, rules: []),
        Shape(regex: #"^\s+Reason:\s+CrashLoopBackOff\s*$"#, rules: []),
        Shape(regex: "服务正在部署中", rules: []),
        Shape(regex: "失败", rules: []),  // two characters, six bytes
        Shape(regex: "curl: \\((?:7|28)\\) Failed", rules: []),
        Shape(regex: "boom", caseless: true, rules: []),
        Shape(regex: "(?i)boom", rules: []),
        // a literal that every alternative shares counts; one alternative alone does not
        Shape(regex: "(?:GET|HEAD) /static/", rules: []),
        Shape(regex: "failed (?:to connect|connecting)", rules: []),
        Shape(regex: "(?:foo|bar)", rules: []),  // one literal each
        Shape(regex: "(?:fo|bar)", rules: ["no-required-literal"]),
        Shape(regex: "(?:Service unauthenticated|服务认证失败)", rules: []),  // one literal each
        Shape(regex: "归档插件文件失败|Failed to archive atom file", rules: []),
        Shape(regex: "(?:Get|HEAD|ab) /", rules: ["no-required-literal"]),  // "ab" is too short
        Shape(regex: "(?:Get|HEAD|(?:ab)?) ", rules: ["no-required-literal"]),  // one alternative has none
        Shape(regex: "x(?:Get|HEAD)y", rules: []),
        Shape(regex: "(?:connection reset|reset by peer)", rules: []),  // "reset" is in both
        // a quantifier breaks a literal; a fixed count keeps it
        Shape(regex: "ab?cd?ef", rules: ["no-required-literal"]),
        Shape(regex: "a(?:bc){2}", rules: []),
        Shape(regex: "x+yz", rules: []),
        Shape(regex: "(?:abc)?", rules: ["no-required-literal"]),
        Shape(regex: #"[0-9]+\.[0-9]+"#, rules: ["no-required-literal"]),
        Shape(regex: #"\d{3}-\d{4}"#, rules: ["no-required-literal"]),
        Shape(regex: "[Ee]rror: [0-9]+", rules: []),  // "rror: "
        Shape(regex: "[Ee][Rr]", rules: ["no-required-literal"]),
        Shape(regex: #"\.svc\b"#, rules: []),  // escaped bytes are literals
        Shape(regex: #"\x41\x42\x43"#, rules: []),
        Shape(regex: #"\Qa.b\E"#, rules: []),
        // leading .* / .*?
        Shape(regex: ".*failed to pull", rules: ["leading-dot-star"]),
        Shape(regex: ".*?failed to pull", rules: ["leading-dot-star"]),
        Shape(regex: ".+failed to pull", rules: ["leading-dot-star"]),
        Shape(regex: "(?:.*failed to pull|timed out)", rules: []),  // inside a group: not the regex's start
        Shape(regex: "^.*failed to pull", rules: []),
        Shape(regex: "failed.*to pull", rules: []),
        Shape(regex: "\\b.*?failed", rules: ["leading-dot-star"]),
        // (?:^|\s) starts
        Shape(regex: #"(?:^|\s)error: timed out"#, rules: ["line-start-alternation"]),
        Shape(regex: #"(?:^|[ \t])error: timed out"#, rules: ["line-start-alternation"]),
        Shape(regex: #"(?:|\s)error: timed out"#, rules: ["line-start-alternation"]),
        Shape(regex: #"(?<!\S)error: timed out"#, rules: []),
        Shape(regex: #"(?:^|\s)[a-z]+"#, rules: ["no-required-literal", "line-start-alternation"]),
        Shape(regex: #"(?:error|warning): timed out"#, rules: []),
        // nested quantifiers
        Shape(regex: "(x+)+yz", rules: ["nested-quantifier"]),
        Shape(regex: "(?:a*b?)*cde", rules: ["nested-quantifier"]),
        Shape(regex: #"host\.(?:[a-z]+\.)*svc"#, rules: []),  // the dot separates the loops
        Shape(regex: #"host (?:\.[A-Za-z0-9-]+)*"#, rules: []),
        Shape(regex: "(?:ab+){2}cd", rules: []),  // the a keeps the two loops apart
        Shape(regex: "(?:b+){2}cd", rules: ["nested-quantifier"]),
        Shape(regex: "(?:b+)?cde", rules: []),  // at most once
        Shape(regex: "^(?=.*(?:x+)+)abc", rules: ["nested-quantifier"]),  // PCRE2 runs look-arounds too
        // the ^(?=.*?FULL).*?TAIL idiom: Hyperscan sees the tail, and the tail has a literal
        Shape(regex: "^(?=.*?https://[^/]+/v2/[^ ]* dial tcp: lookup).*?dial tcp: lookup", rules: []),
        Shape(regex: "^(?=.*?x509).*?[a-z]+", rules: ["no-required-literal"]),
    ]

    @Test(arguments: shapes) func regexBreaksTheExpectedRules(_ shape: Shape) {
        #expect(CatalogLint.costRuleIDs(regex: shape.regex, caseless: shape.caseless) == shape.rules)
    }

    @Test func theRequiredLiteralIsTheLongestOneEveryMatchContains() throws {
        let literal = { (regex: String) in
            String(decoding: try #require(RegexShape(regex)).requiredLiteral, as: UTF8.self)
        }
        #expect(try literal("foo(?:bar|baz)qux") == "fooba")
        #expect(try literal("a+bcd") == "abcd")
        #expect(try literal(#"(?:connection reset|reset by peer)"#) == "reset")
        #expect(try literal(#"failed to resolve host \[(?<host>[a-z.]+)\]"#) == "failed to resolve host [")
        #expect(try literal(#"(?:Get|Head) "?https?://"#) == "http")

        let literals = { (regex: String) in
            try #require(RegexShape(regex)).requiredLiterals.map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(try literals("(?:上传|Upload) failed") == [" failed"])
        #expect(try literals("(?:upload|download) x") == ["load x"])  // the shared suffix runs on
        #expect(try literals("(?:uploading|downloading)(?:ab|cd)") == ["downloading", "uploading"])
        #expect(try literals("a(?:bc)?d") == ["a"])
    }

    @Test func theBuiltInCatalogLintsClean() throws {
        let catalog = try Catalog.load(directories: [Paths.patterns])
        let findings = CatalogLint.lint(catalog)
        #expect(findings.isEmpty, "\(findings.map(\.description).joined(separator: "\n"))")
    }

    /// A regex the reader does not understand is skipped by every rule: none of the built-in ones.
    @Test func everyBuiltInRegexIsReadByTheLint() throws {
        let catalog = try Catalog.load(directories: [Paths.patterns])
        for c in catalog.cases {
            for s in c.symptoms {
                #expect(RegexShape(s.regex, caseless: s.flags.contains(.caseless)) != nil, "\(c.id)/\(s.id)")
            }
        }
    }

    @Test func everyAllowanceNamesARealCaseARuleAndAReason() throws {
        let catalog = try Catalog.load(directories: [Paths.patterns])
        let rules = Set(CatalogLint.rules.map(\.id))
        for a in CatalogLint.allowed {
            let c = try #require(catalog[a.caseID], "allow-list names no case \(a.caseID)")
            #expect(rules.contains(a.rule))
            #expect(!a.reason.isEmpty)
            if let s = a.symptomID { #expect(c.symptom(s) != nil) }
            // and the rule still finds something there, or the allowance is dead
            let rule = try #require(CatalogLint.rules.first { $0.id == a.rule })
            #expect(rule.check(c).contains { a.symptomID == nil || $0.symptomID == a.symptomID })
        }
    }

    @Test func findingsNameFileLineCaseAndRuleAndAllowancesDropThem() throws {
        let cases = try CatalogLoader.parse(caseDocument(id: "slow-case", regex: #"(?:^|\s)[a-z]+"#), file: "p.yaml")
        let catalog = try Catalog(cases: cases)
        let findings = CatalogLint.lint(catalog, rules: CatalogLint.rules, allowed: [])
        #expect(findings.map(\.rule) == ["no-required-literal", "line-start-alternation"])
        let first = try #require(findings.first)
        #expect(first.caseID == "slow-case")
        #expect(first.symptomID == "boom")
        #expect(first.description.hasPrefix("p.yaml:7: case slow-case: no-required-literal: symptom boom: "))

        let allowed = [CatalogLint.Allowance(caseID: "slow-case", rule: "line-start-alternation", reason: "test")]
        #expect(CatalogLint.lint(catalog, rules: CatalogLint.rules, allowed: allowed).map(\.rule) == ["no-required-literal"])
    }

    @Test func aRuleIsANamedFunctionOverACase() throws {
        // How fix-command rules slot in: one more function, one more entry in the list.
        let noCommands = CatalogLint.Rule(id: "fix-without-commands", summary: "the fix names no command") { c in
            c.fix.commands.isEmpty ? [.init(location: c.location, message: "the fix has no command")] : []
        }
        let cases = try CatalogLoader.parse(caseDocument(id: "a-case"), file: "p.yaml")
        var c = try #require(cases.first)
        c.fix.steps = []
        let findings = CatalogLint.lint(try Catalog(cases: [c]), rules: [noCommands], allowed: [])
        #expect(findings.map(\.description) == ["p.yaml:1: case a-case: fix-without-commands: the fix has no command"])
    }
}
