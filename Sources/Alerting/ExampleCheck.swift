import CaseCatalog
import CaseMatcher

/// Runs a case's own examples through the whole matching path, with both engines: every
/// `match` example must raise the case and no other (except generic cases it supersedes), every
/// `no_match` example must not raise it, and the compiled database must agree with PCRE2 alone.
/// The test suite runs it over the built-in catalog; `casewatch cases test` over anyone's.
public struct ExampleCheck {
    public struct Failure: Sendable, CustomStringConvertible {
        public var caseID: String
        public var location: SourceLocation
        public var message: String
        public var example: String

        public var description: String {
            let first = example.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
            return "\(location): case \(caseID): \(message): \(first.prefix(160))"
        }
    }

    public let compiled: CompiledCatalog

    public init(compiled: CompiledCatalog) {
        self.compiled = compiled
    }

    /// Every case an example raises, each hit its own alert (no dedup), with the compiled
    /// database or with PCRE2 alone.
    private func alerts(_ text: String, kind: SourceKind, reference: Bool) throws -> [Alert] {
        let pipeline = try Pipeline(
            compiled: compiled, options: .init(book: .init(dedup: false), contextBefore: 0, reference: reference))
        return try pipeline.alerts(text: text, origin: Origin(kind: kind, name: "example.log"))
    }

    /// Every problem with the examples of one case; empty when all hold.
    public func check(_ c: Case) throws -> [Failure] {
        var failures: [Failure] = []
        func fail(_ message: String, _ example: String) {
            failures.append(Failure(caseID: c.id, location: c.location, message: message, example: example))
        }
        if c.hasLogSignature && c.examples.match.count < 3 {
            fail("needs at least 3 match examples, has \(c.examples.match.count)", "")
        }
        // Examples are read as a saved file, unless every symptom is limited to other kinds of
        // source (casewatch's own records): then as the first of those.
        let scoped = c.symptoms.compactMap { $0.scope.sources }
        let source: SourceKind = scoped.count == c.symptoms.count && !scoped.contains { $0.contains(.file) }
            ? scoped.first?.sorted { $0.rawValue < $1.rawValue }.first ?? .file : .file
        for (kind, examples) in [("match", c.examples.match), ("no_match", c.examples.noMatch)] {
            for example in examples {
                let compiled = try alerts(example, kind: source, reference: false)
                let reference = try alerts(example, kind: source, reference: true)
                if compiled.map(\.caseID) != reference.map(\.caseID)
                    || compiled.map(\.evidence.lineNumber) != reference.map(\.evidence.lineNumber)
                {
                    fail("the engines disagree (database: \(compiled.map(\.caseID)), PCRE2: \(reference.map(\.caseID)))", example)
                }
                let fired = Set(compiled.map(\.caseID))
                if kind == "match" {
                    if !fired.contains(c.id) { fail("match example does not raise the case", example) }
                    let others = fired.subtracting([c.id]).subtracting(c.supersedes)
                    if !others.isEmpty { fail("match example also raises \(others.sorted().joined(separator: ", "))", example) }
                } else if fired.contains(c.id) {
                    fail("no_match example raises the case", example)
                }
            }
        }
        return failures
    }
}
