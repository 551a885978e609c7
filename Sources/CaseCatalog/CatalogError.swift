/// An error in the case catalog, naming the file, the line and the field.
public struct CatalogError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The file could not be read.
        case unreadable
        /// The YAML itself is malformed.
        case syntax
        /// A field is missing, unknown, or has a wrong value.
        case invalidField
        /// Two cases share an id.
        case duplicateID
        /// A case refers to something that does not exist (a symptom, a superseded case).
        case unresolvedReference
        /// A symptom's regex does not compile.
        case invalidPattern
        /// The catalog holds more than the matcher can number.
        case tooLarge
    }

    public var code: Code
    public var location: SourceLocation
    /// The field path, such as `symptoms[1].regex`; empty when the error is about the file.
    public var field: String
    /// The case concerned, when known.
    public var caseID: String?
    public var message: String

    public init(_ code: Code, at location: SourceLocation, field: String = "", caseID: String? = nil, _ message: String) {
        self.code = code
        self.location = location
        self.field = field
        self.caseID = caseID
        self.message = message
    }

    public var description: String {
        var text = "\(location): "
        if let caseID { text += "case \(caseID): " }
        if !field.isEmpty { text += "\(field): " }
        return text + message
    }
}

/// Every error found in a catalog; loading reports all of them, not only the first.
public struct CatalogErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [CatalogError]

    public init(_ errors: [CatalogError]) { self.errors = errors }

    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
