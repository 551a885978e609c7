/// A log source failed: a file that cannot be opened or read, or a reader asked for
/// something it cannot do.
public struct LogSourceError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case open, read
        /// A parameter out of range, such as a maximum line length of 0.
        case invalidArgument
    }

    public var code: Code
    /// The file path, or `-` for standard input.
    public var source: String
    public var message: String
    /// `errno` at the failure, when there was one.
    public var errno: Int32?

    public init(_ code: Code, source: String, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.source = source
        self.message = message
        self.errno = errno
    }

    public var description: String {
        "\(source): \(message)"
    }
}
