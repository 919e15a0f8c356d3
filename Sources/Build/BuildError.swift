import Dockerfile

/// The one error type of the Build module's boundary: what went wrong, for which service and
/// where (Dockerfile line, build step), and what to do.
public struct BuildError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The compose project or the command line asks for something impossible.
        case invalidRequest
        /// A Dockerfile does not parse, or uses something the classic builder refuses.
        case dockerfile
        /// The build context cannot be archived.
        case context
        /// Builds depend on each other in a circle.
        case cycle
        /// The engine could not be reached or refused a call.
        case engine
        /// The engine ran the build and a step failed.
        case buildFailed
        /// Not built because a build it depends on failed.
        case skipped
        /// The release lock could not be written.
        case output
        /// The libc audit found problems in an image (with `--strict`), or could not read it.
        case audit
    }

    public var kind: Kind
    /// The compose service concerned, when there is one.
    public var service: String?
    /// Where: `path/Dockerfile:3`, a context path, or the failing step (`Step 2/3 : RUN false`).
    public var location: String?
    public var message: String
    public var hint: String?
    /// For `.buildFailed`: the last lines the failing step printed.
    public var output: [String]

    public init(_ kind: Kind, service: String? = nil, location: String? = nil, message: String, hint: String? = nil,
                output: [String] = []) {
        self.kind = kind
        self.service = service
        self.location = location
        self.message = message
        self.hint = hint
        self.output = output
    }

    public var description: String {
        var text = ""
        if let service { text += "service \(service): " }
        if let location { text += "\(location): " }
        text += message
        if !output.isEmpty {
            text += "\n  output of the failing step (last \(output.count) lines):"
            for line in output { text += "\n    | " + line }
        }
        if let hint { text += "\n  " + hint }
        return text
    }

    /// Several errors found in one pass (e.g. every bad Dockerfile), reported together.
    static func combined(_ errors: [BuildError]) -> BuildError {
        if errors.count == 1 { return errors[0] }
        let text = errors.map { "  - " + $0.description.replacing("\n", with: "\n    ") }
        return BuildError(errors.first?.kind ?? .invalidRequest,
                          message: "\(errors.count) problems:\n" + text.joined(separator: "\n"))
    }

    init(_ error: DockerfileError, service: String) {
        self.init(.dockerfile, service: service, message: error.description)
    }

    init(_ error: BuildContextError, service: String) {
        self.init(.context, service: service, message: error.description)
    }
}
