/// A model file that cannot be used. `description` is one line naming the file and the problem,
/// which the CLI prints as is (exit code 2).
public struct ModelError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let problem: String

    public init(file: String, problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
}
