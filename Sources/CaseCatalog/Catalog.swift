import Foundation

/// A validated set of cases, loaded from one or more directories.
public struct Catalog: Sendable {
    public private(set) var cases: [Case]
    private var index: [String: Int]

    /// Builds a catalog, checking ids, symptom references and supersedes links.
    public init(cases: [Case]) throws(CatalogErrors) {
        var errors: [CatalogError] = []
        var index: [String: Int] = [:]
        for (i, c) in cases.enumerated() {
            if let first = index[c.id] {
                errors.append(CatalogError(
                    .duplicateID, at: c.location, field: "id", caseID: c.id,
                    "duplicate id, first defined at \(cases[first].location)"))
                continue
            }
            index[c.id] = i
        }
        for c in cases {
            for (j, s) in c.supersedes.enumerated() where index[s] == nil {
                errors.append(CatalogError(
                    .unresolvedReference, at: c.location, field: "supersedes[\(j)]", caseID: c.id,
                    "no case with id '\(s)'"))
            }
        }
        guard errors.isEmpty else { throw CatalogErrors(errors) }
        self.cases = cases
        self.index = index
    }

    public subscript(id: String) -> Case? {
        index[id].map { cases[$0] }
    }

    /// Loads every `*.yaml`/`*.yml` file of each directory, in order; later directories may add
    /// cases but not redefine an id. All errors are collected and thrown together.
    public static func load(directories: [String]) throws(CatalogErrors) -> Catalog {
        var cases: [Case] = []
        var errors: [CatalogError] = []
        for directory in directories {
            let files: [String]
            do {
                files = try FileManager.default.contentsOfDirectory(atPath: directory)
                    .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                    .sorted()
                    .map { (directory as NSString).appendingPathComponent($0) }
            } catch {
                errors.append(CatalogError(
                    .unreadable, at: SourceLocation(file: directory, line: 0),
                    "Failed to list catalog directory: \(error.localizedDescription)"))
                continue
            }
            for file in files {
                do {
                    cases += try CatalogLoader.loadFile(file)
                } catch {
                    errors += error.errors
                }
            }
        }
        guard errors.isEmpty else { throw CatalogErrors(errors) }
        return try Catalog(cases: cases)
    }
}
