import CVectorscan

/// A failure reported by the Hyperscan API (`hs_error_t`), mapped in this one place.
public struct VectorscanError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        case invalid, noMemory, scanTerminated, compilerError, databaseVersion, databasePlatform
        case databaseMode, badAlign, badAlloc, scratchInUse, architecture, insufficientSpace
        case unknown(Int32)

        init(_ raw: hs_error_t) {
            switch raw {
            case HS_INVALID: self = .invalid
            case HS_NOMEM: self = .noMemory
            case HS_SCAN_TERMINATED: self = .scanTerminated
            case HS_COMPILER_ERROR: self = .compilerError
            case HS_DB_VERSION_ERROR: self = .databaseVersion
            case HS_DB_PLATFORM_ERROR: self = .databasePlatform
            case HS_DB_MODE_ERROR: self = .databaseMode
            case HS_BAD_ALIGN: self = .badAlign
            case HS_BAD_ALLOC: self = .badAlloc
            case HS_SCRATCH_IN_USE: self = .scratchInUse
            case HS_ARCH_ERROR: self = .architecture
            case HS_INSUFFICIENT_SPACE: self = .insufficientSpace
            default: self = .unknown(raw)
            }
        }
    }

    public var code: Code
    /// What was being done, such as "Failed to allocate scratch".
    public var message: String
    /// For compile errors: the index of the expression at fault, if any.
    public var expression: Int?

    public init(_ code: Code, _ message: String, expression: Int? = nil) {
        self.code = code
        self.message = message
        self.expression = expression
    }

    /// Throws unless `result` is `HS_SUCCESS`.
    static func check(_ result: hs_error_t, _ message: @autoclosure () -> String) throws(VectorscanError) {
        if result != HS_SUCCESS { throw VectorscanError(Code(result), message()) }
    }

    public var description: String { "\(message): \(code)" }
}

/// The version string of the linked Hyperscan-API library.
/// The corresponding C function is `hs_version`.
public var vectorscanVersion: String { String(cString: hs_version()) }
