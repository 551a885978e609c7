/// A text in the two languages the product speaks.
public struct Localized: Sendable, Hashable {
    public var en: String
    public var zh: String

    public init(en: String, zh: String) {
        self.en = en
        self.zh = zh
    }

    public subscript(language: Language) -> String {
        switch language {
        case .en: en
        case .zh: zh
        }
    }
}

/// An output language.
public enum Language: String, Sendable, Hashable, CaseIterable {
    case en, zh

    /// The language the locale asks for: `LC_ALL`, then `LC_MESSAGES`, then `LANG`;
    /// Chinese for any `zh*` locale, English otherwise.
    public static func fromEnvironment(_ environment: [String: String]) -> Language {
        for key in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let value = environment[key], !value.isEmpty {
                return value.lowercased().hasPrefix("zh") ? .zh : .en
            }
        }
        return .en
    }
}
