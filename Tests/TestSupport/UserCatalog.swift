import Foundation

/// One operator case as YAML: the same shape for every test that adds a case of its own.
/// `symptomExtra` is YAML of the symptom's keys after `id` and `regex` (a scope, flags).
public func operatorCaseYAML(
    id: String = "my-case", severity: String = "error", symptomID: String = "s", regex: String,
    symptomExtra: String = "", fixCommands: [String] = [], example: String = "oops"
) -> String {
    let extra = symptomExtra.isEmpty ? "" : "\n    " + symptomExtra.replacingOccurrences(of: "\n", with: "\n    ")
    let commands = fixCommands.isEmpty ? "" : "\n  commands:\n" + fixCommands.map { "    - '\($0)'" }.joined(separator: "\n")
    return """
        id: \(id)
        title: {en: Mine, zh: 我的}
        severity: \(severity)
        source: {seed: mine, heading: mine}
        symptoms:
          - id: \(symptomID)
            regex: '\(regex)'\(extra)
        diagnosis: {en: The disk is full., zh: 磁盘满了。}
        fix:
          en: Free space.
          zh: 清理空间。\(commands)
        examples: {match: ["\(example)"]}
        """
}

/// Writes one operator case file (`operatorCaseYAML`) into a fresh directory; the caller
/// removes it.
public func writeUserCatalog(
    id: String = "my-case", severity: String = "error", symptomID: String = "s", regex: String,
    symptomExtra: String = "", fixCommands: [String] = [], example: String = "oops"
) throws -> URL {
    let dir = Paths.temporaryDirectory()
    try operatorCaseYAML(
        id: id, severity: severity, symptomID: symptomID, regex: regex, symptomExtra: symptomExtra,
        fixCommands: fixCommands, example: example
    ).write(to: dir.appendingPathComponent("mine.yaml"), atomically: true, encoding: .utf8)
    return dir
}

/// The JSON objects of `scan --format json` output, one per line.
public func jsonObjects(_ stdout: String) throws -> [[String: Any]] {
    try stdout.split(separator: "\n").map {
        guard let o = try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] else {
            throw CocoaError(.coderInvalidValue)
        }
        return o
    }
}
