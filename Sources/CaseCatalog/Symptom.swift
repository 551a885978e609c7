/// One log-line signature of a case: a regex and where it applies.
public struct Symptom: Sendable, Hashable {
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// Case-insensitive (ASCII).
        public static let caseless = Flags(rawValue: 1 << 0)

        static let names: [(String, Flags)] = [("caseless", .caseless)]
    }

    /// Kebab-case, unique within its case.
    public var id: String
    /// PCRE2 syntax, matched against one line as bytes.
    public var regex: String
    public var flags: Flags
    public var scope: Scope
    public var location: SourceLocation

    public init(
        id: String, regex: String, flags: Flags = [], scope: Scope = Scope(),
        location: SourceLocation = SourceLocation(file: "<memory>", line: 0)
    ) {
        self.id = id
        self.regex = regex
        self.flags = flags
        self.scope = scope
        self.location = location
    }
}
