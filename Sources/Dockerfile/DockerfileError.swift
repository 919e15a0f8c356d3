/// The one error type of the Dockerfile module: what went wrong, where, and what to do.
public struct DockerfileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The Dockerfile's name as given to the parser (`Dockerfile` by default); nil for errors
    /// of the shell-word lexer used on its own.
    public var file: String?
    /// 1-based line of the instruction (its first line when it spans several); nil when unknown.
    public var line: Int?
    public var message: String
    /// What to do about it, when there is something better to say than the message.
    public var hint: String?

    public init(file: String? = nil, line: Int? = nil, message: String, hint: String? = nil) {
        self.file = file
        self.line = line
        self.message = message
        self.hint = hint
    }

    public var description: String {
        var location = ""
        if let file {
            location = file
            if let line { location += ":\(line)" }
            location += ": "
        } else if let line {
            location = "line \(line): "
        }
        var text = location + message
        if let hint { text += "\n  " + hint }
        return text
    }

    func located(file: String, line: Int) -> DockerfileError {
        var copy = self
        if copy.file == nil { copy.file = file }
        if copy.line == nil { copy.line = line }
        return copy
    }
}
