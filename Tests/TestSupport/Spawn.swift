import Foundation

/// Starts `executable` in the background, its standard output and error going to files in
/// `directory` (read them with `stdout` / `stderr`); the caller kills it by its pid.
public func spawnProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: URL) throws -> SpawnedProcess {
    try SpawnedProcess(executable: executable, arguments: arguments, environment: environment, directory: directory)
}
