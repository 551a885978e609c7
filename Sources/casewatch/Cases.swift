import Alerting
import ArgumentParser
import CaseCatalog
import CaseMatcher
import Daemon
import Foundation

struct Cases: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Browse the case catalog.",
        subcommands: [List.self, Show.self, Test.self, Lint.self, Docs.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every case: id, severity, title.")

        @OptionGroup var catalog: CatalogOptions
        @OptionGroup var languageOption: LanguageOption
        @Option(help: "Output format: text or json.") var format: AlertFormatter.Format = .text

        func run() throws {
            let (configuration, cat) = try loadOrExit(catalog)
            let language = languageOption.language(configuration)
            switch format {
            case .json:
                for c in cat.cases { print(CaseJSON.encode(c)) }
            case .text:
                let width = cat.cases.map(\.id.count).max() ?? 0
                for c in cat.cases {
                    let id = c.id.padding(toLength: width, withPad: " ", startingAt: 0)
                    let sev = c.severity.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                    let mark = c.hasLogSignature ? "" : (language == .zh ? "  （无日志特征）" : "  (no log signature)")
                    print("\(id)  \(sev)  \(c.title[language])\(mark)")
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one case: symptoms, diagnosis and fix.")

        @OptionGroup var catalog: CatalogOptions
        @OptionGroup var languageOption: LanguageOption
        @Option(help: "Output format: text or json.") var format: AlertFormatter.Format = .text
        @Argument(help: "The case id.") var id: String

        func run() throws {
            let (configuration, cat) = try loadOrExit(catalog)
            guard let c = cat[id] else {
                FileHandle.standardError.write(Data("casewatch: no case with id '\(id)' (see `casewatch cases list`)\n".utf8))
                throw ExitCode(2)
            }
            if format == .json {
                print(CaseJSON.encode(c))
                return
            }
            let l = languageOption.language(configuration)
            let zh = l == .zh
            var out = "\(c.id)  [\(c.severity.rawValue)]\n  \(c.title[l])\n  \(c.title[zh ? .en : .zh])\n\n"
            out += (zh ? "来源: " : "Source: ") + "\(c.source.seed) — \(c.source.heading)\n"
            out += (zh ? "定义于: " : "Defined in: ") + "\(c.location)\n\n"
            if c.symptoms.isEmpty {
                out += zh ? "日志特征: 无（此案例只在网页界面上表现）\n\n" : "Symptoms: none (this case shows only on a web page)\n\n"
            } else {
                out += zh ? "日志特征:\n" : "Symptoms:\n"
                for s in c.symptoms {
                    out += "  \(s.id): \(s.regex)\(s.flags.contains(.caseless) ? "  (caseless)" : "")\n"
                }
                if let t = c.trigger, !t.steps.isEmpty {
                    let steps = t.steps.map { $0.joined(separator: "|") }.joined(separator: " → ")
                    out += (zh ? "  触发: 依次出现 " : "  Trigger: in order ") + steps + (zh ? "，\(Int(t.window)) 秒内\n" : " within \(Int(t.window))s\n")
                }
                out += "\n"
            }
            out += (zh ? "原因:\n" : "Diagnosis:\n") + indented(FixRenderer.neutral(c.diagnosis[l])) + "\n"
            out += (zh ? "处理:\n" : "Fix:\n") + indented(FixRenderer.neutral(c.fix.text[l])) + "\n"
            // The alert's rendering, four columns further left; placeholders read <name>.
            for line in FixRenderer.lines(c.fix, language: l, fill: FixRenderer.neutral) {
                out += String(line.dropFirst(4)) + "\n"
            }
            if let example = c.examples.match.first {
                out += "\n" + (zh ? "示例日志:\n" : "Example:\n") + indented(example)
            }
            print(out, terminator: out.hasSuffix("\n") ? "" : "\n")
        }

        private func indented(_ s: String) -> String {
            s.trimmingCharacters(in: .newlines).split(separator: "\n", omittingEmptySubsequences: false)
                .map { "    " + $0 }.joined(separator: "\n") + "\n"
        }
    }
}

extension Cases {
    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run every case's examples through both engines; for people writing cases.",
            discussion: """
                Each match example must raise its case and no other (except the generic cases it
                supersedes), each no_match example must not raise it, and the compiled database
                must agree with PCRE2 alone. Exit status 0 when all hold, 1 otherwise.
                """)

        @OptionGroup var catalog: CatalogOptions
        @Argument(help: "Only these case ids (default: all).") var ids: [String] = []

        func run() throws {
            let (_, cat) = try loadOrExit(catalog)
            let check = ExampleCheck(compiled: try compileOrExit(catalog, cat))
            var failed = 0, examples = 0
            for c in cat.cases where ids.isEmpty || ids.contains(c.id) {
                examples += c.examples.match.count + c.examples.noMatch.count
                let failures = try check.check(c)
                failed += failures.count
                for f in failures { print("FAIL \(f)") }
            }
            print("\(examples) examples of \(ids.isEmpty ? cat.cases.count : ids.count) cases: \(failed == 0 ? "all hold" : "\(failed) failed")")
            if failed > 0 { throw ExitCode(1) }
        }
    }

    struct Lint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report costly regex shapes and fixes that are unsafe to paste; for people writing cases.",
            discussion: """
                Prints one line per finding, `file:line: case ID: rule: message`. Regex rules:
                \(CatalogLint.rules.map { "  \($0.id): \($0.summary)" }.joined(separator: "\n"))
                Fix rules (docs/CATALOG-FORMAT.md, "Catalog lint"): \(FixLintFinding.Rule.allCases.map(\.rawValue).joined(separator: ", ")).
                With --seeds, headings are checked byte for byte against the knowledge base.
                Exit status 0 when there is nothing to report, 1 when there is, 2 when the
                catalog does not load.
                """)

        @OptionGroup var catalog: CatalogOptions

        @Option(help: ArgumentHelp("The knowledge base's seed files, to check headings against.", valueName: "DIR"))
        var seeds: String?

        func run() throws {
            let (_, cat) = try loadOrExit(catalog)
            let findings = CatalogLint.lint(cat).map(\.description) + FixLint.lint(cat, seeds: seeds).map(\.description)
            for f in findings { print(f) }
            if !findings.isEmpty { throw ExitCode(1) }
        }
    }

    struct Docs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the catalog as Markdown, or refresh the generated part of docs/CASES.md.")

        @OptionGroup var catalog: CatalogOptions
        @Option(help: ArgumentHelp("Rewrite the generated block of this Markdown file in place.", valueName: "FILE"))
        var update: String?

        func run() throws {
            let (_, cat) = try loadOrExit(catalog)
            guard let update else {
                print(CatalogDocument.markdown(cat), terminator: "")
                return
            }
            let old = (try? String(contentsOfFile: update, encoding: .utf8)) ?? ""
            try CatalogDocument.update(old, with: cat).write(toFile: update, atomically: true, encoding: .utf8)
        }
    }
}

/// The compiled catalog, or a message on standard error and exit status 2.
func compileOrExit(_ options: CatalogOptions, _ catalog: Catalog) throws -> CompiledCatalog {
    do {
        return try options.compile(catalog)
    } catch {
        FileHandle.standardError.write(Data("casewatch: \(error)\n".utf8))
        throw ExitCode(2)
    }
}

/// The configuration and the catalog, or a message on standard error and exit status 2.
func loadOrExit(_ options: CatalogOptions) throws -> (DaemonConfiguration, Catalog) {
    do {
        let configuration = try options.configuration()
        return (configuration, try options.loadCatalog(configuration))
    } catch {
        FileHandle.standardError.write(Data("casewatch: \(error)\n".utf8))
        throw ExitCode(2)
    }
}

/// The JSON form of a case, as `cases list/show --format json` print it.
enum CaseJSON {
    struct Text: Encodable { var en: String; var zh: String }
    struct SymptomJSON: Encodable { var id: String; var regex: String; var flags: [String] }
    struct Body: Encodable {
        var id: String
        var severity: String
        var title: Text
        var source: [String: String]
        var symptoms: [SymptomJSON]
        var log_signature: Bool
        var supersedes: [String]
        var diagnosis: Text
        var fix: FixRenderer.JSON
        var fix_commands: [String]
        var examples: [String: [String]]
    }

    static func encode(_ c: Case) -> String {
        let body = Body(
            id: c.id, severity: c.severity.rawValue, title: Text(en: c.title.en, zh: c.title.zh),
            source: ["seed": c.source.seed, "heading": c.source.heading],
            symptoms: c.symptoms.map { SymptomJSON(id: $0.id, regex: $0.regex, flags: $0.flags.contains(.caseless) ? ["caseless"] : []) },
            log_signature: c.hasLogSignature, supersedes: c.supersedes,
            diagnosis: Text(en: c.diagnosis.en, zh: c.diagnosis.zh), fix: FixRenderer.json(c.fix, fill: { $0 }),
            fix_commands: c.fix.commands, examples: ["match": c.examples.match, "no_match": c.examples.noMatch])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(body)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
