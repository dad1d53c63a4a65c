/// One utterance and its intent.
public struct LabelledExample: Sendable, Hashable, Codable {
    public var text: String
    public var intent: String

    public init(text: String, intent: String) {
        self.text = text
        self.intent = intent
    }
}

/// A dataset file that cannot be used: the file, the line (1-based, when known) and the problem.
public struct DatasetError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let line: Int?
    public let problem: String

    public init(file: String, line: Int? = nil, problem: String) {
        self.file = file
        self.line = line
        self.problem = problem
    }

    public var description: String { line.map { "\(file):\($0): \(problem)" } ?? "\(file): \(problem)" }
}
