import Foundation

/// A failure reported by libsystemd (a negative errno), mapped in this one place.
public struct SystemdError: Error, Sendable, CustomStringConvertible {
    /// The errno value (positive).
    public var errno: Int32
    /// What was being done, such as "Failed to open journal".
    public var message: String

    public init(errno: Int32, _ message: String) {
        self.errno = errno
        self.message = message
    }

    /// Returns `result` when it is not negative; throws otherwise.
    @discardableResult
    static func check(_ result: Int32, _ message: @autoclosure () -> String) throws(SystemdError) -> Int32 {
        if result < 0 { throw SystemdError(errno: -result, message()) }
        return result
    }

    public var description: String {
        "\(message): \(String(cString: strerror(errno)))"
    }
}
