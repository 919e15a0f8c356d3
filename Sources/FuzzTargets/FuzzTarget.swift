import BerthYAML
import Compose
import Dockerfile
import Engine
import Foundation
import Interpolation
import Logging
import Registry

/// A parser entry point that must take any bytes without trapping or hanging: bad input is a
/// thrown error, never a crash. Shared by the libFuzzer executable (`berth-fuzz`) and the
/// seeded pass in `FuzzTests`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case yaml
    case compose
    case interpolation
    case dotenv
    case dockerfile
    case imageReference = "image-reference"
    case registry
    case engine
    case registryToken = "registry-token"
    case registryError = "registry-error"
    case engineProgress = "engine-progress"
    case engineLogs = "engine-logs"
    case engineSummary = "engine-summary"

    /// Runs one input. Parse errors are the expected outcome for most inputs and are swallowed
    /// (after rendering their description, which has its own code paths); a broken property
    /// (a round trip that does not hold) is thrown as a `FuzzFinding`. A trap is a finding too:
    /// it kills the process, which libFuzzer reports with the input.
    public func run(_ input: [UInt8]) throws(FuzzFinding) {
        let text = String(decoding: input, as: UTF8.self)
        switch self {
        case .yaml: try Self.yaml(text)
        case .compose: Self.compose(input)
        case .interpolation: Self.interpolation(text)
        case .dotenv: Self.dotenv(text)
        case .dockerfile: Self.dockerfile(text)
        case .imageReference: try Self.imageReference(text)
        case .registry: Self.registry(input, text)
        case .engine: Self.engine(input)
        case .registryToken: try Self.registryToken(input)
        case .registryError: try Self.registryError(input)
        case .engineProgress: try Self.engineProgress(input)
        case .engineLogs: try Self.engineLogs(input)
        case .engineSummary: try Self.engineSummary(input)
        }
    }

    /// Tokens the mutators splice in: the syntax each parser branches on.
    public var dictionary: [String] {
        switch self {
        case .yaml, .compose:
            ["{", "}", "[", "]", ":", ": ", "- ", "&a ", "*a", "<<: ", "<<: *a", "!reset ", "!override ", "!!str ",
             "? ", "|", ">-", "'", "\"", "#", "---\n", "...\n", "%YAML 1.1\n", "\t", "\n  ", "${X}", "$${X}",
             "services:\n", "  web:\n    image: x\n", "extends:", "include:", "build:", "ports:", "volumes:",
             "depends_on:", "deploy:", "x-", "env_file:", "networks:", "\\", "\u{FEFF}", "\0"]
        case .interpolation, .dotenv:
            ["$", "${", "}", "${X}", "${X:-d}", "${X-d}", "${X:?e}", "${X?e}", "${X:+a}", "${X+a}", "$$", "\\",
             "\"", "'", "=", ":", "#", " #", "export ", "\n", "\r\n", "\\n", "\\0123", "${X:-${Y}}", "{", "\u{FFFD}"]
        case .dockerfile:
            ["FROM ", "AS ", "ARG ", "RUN ", "COPY ", "ADD ", "ENV ", "LABEL ", "HEALTHCHECK ", "ONBUILD ", "CMD ",
             "ENTRYPOINT ", "SHELL ", "WORKDIR ", "EXPOSE ", "USER ", "VOLUME ", "STOPSIGNAL ", "--from=", "--mount=",
             "--chown=", "<<EOF\n", "<<-EOF\n", "EOF\n", "\\\n", "`\n", "# escape=`\n", "# syntax=x\n", "[\"a\"]",
             "${A}", "${A:-b}", "$A", "\"", "'", "=", "\n", "\t", "#"]
        case .imageReference:
            ["/", ":", "@", "@sha256:", String(repeating: "a", count: 64), "localhost", "127.0.0.1:5000/",
             "docker.io/", "library/", "_", "__", ".", "-", "latest", "[::1]:5000/", "A", "\0"]
        case .registry, .engine, .engineSummary:
            ["{", "}", "[", "]", ":", ",", "\"", "null", "true", "false", "0", "-1", "1e309", "\"\\u0000\"",
             "\"\\ud800\"", "\"errors\":", "\"code\":", "\"message\":", "\"token\":", "\"auths\":", "\"auth\":",
             "realm=", "service=", "scope=", "Bearer ", "Basic ", "\"Id\":", "\"State\":", "\"Labels\":",
             "\"Config\":", "\"Mounts\":", "\"Ports\":", "\"aux\":", "\"errorDetail\":"]
        case .registryToken:
            ["Bearer ", "Basic ", "bearer ", "realm=", "service=", "scope=", "error=", "=", ",", ", ", "\"", "\\\"", "\\",
             "http://", "https://", "127.0.0.1:5001", "[::1]", "/token", "?a=b", "+", "%2B", "%", "#", "@", " ",
             "repository:acme/web:pull,push", "\n", "{", "}", "\"token\":", "\"access_token\":", "\"expires_in\":",
             "9223372036854775807", "-9223372036854775808", "0", "1e3", "null", "\"\""]
        case .registryError:
            ["401 ", "403 ", "404 ", "429 ", "500 ", "503 ", "inf", "nan", "-1", "1e309", "0.5", "\n", "{", "}", "[", "]",
             ",", ":", "\"errors\":", "\"code\":", "\"message\":", "\"detail\":", "\"DENIED\"", "\"DIGEST_INVALID\"",
             "\"BLOB_UPLOAD_UNKNOWN\"", "\"NAME_UNKNOWN\"", "null", "\"\"", "\"\\u0000\"", "s3cr3t-pw"]
        case .engineProgress:
            ["\n", "\r\n", "\r", " ", "\t", "{", "}", "[", "]", ":", ",", "\"", "null", "0", "\"status\":",
             "\"progress\":", "\"progressDetail\":{\"current\":1,\"total\":2}", "\"id\":", "\"error\":",
             "\"errorDetail\":{\"message\":\"x\"}", "\"stream\":", "\"aux\":{\"ID\":\"sha256:x\"}", "\"Type\":",
             "\"Action\":", "\"Actor\":{\"ID\":\"x\",\"Attributes\":{}}", "\"time\":", "\"timeNano\":", "\"\\ud800\""]
        case .engineLogs:
            ["\u{01}\0\0\0\0\0\0\u{05}", "\u{02}\0\0\0\0\0\0\u{01}", "\0\0\0\0\0\0\0\0", "\u{01}\0\0\0\0\0\u{01}\0",
             "\u{03}\0\0\0", "\u{7F}\u{7F}\u{7F}\u{7F}", "\0\0\0\u{40}", "hello\n", "\n"]
        }
    }

    // MARK: - Targets

    static func yaml(_ text: String) throws(FuzzFinding) {
        let documents: [YAMLNode]
        do {
            documents = try YAML.parseAll(text, file: "fuzz.yaml")
        } catch {
            _ = error.description
            return
        }
        // What the emitter writes must read back: `berth config` prints documents this way.
        let emitted: String
        do {
            emitted = try YAML.emit(documents)
        } catch {
            _ = error.description
            return
        }
        do {
            let again = try YAML.parseAll(emitted, file: "emitted.yaml")
            if again.count != documents.count {
                throw FuzzFinding("emitted YAML has \(again.count) documents, the input had \(documents.count)",
                                  detail: emitted)
            }
        } catch let finding as FuzzFinding {
            throw finding
        } catch {
            throw FuzzFinding("emitted YAML does not parse: \(error)", detail: emitted)
        }
    }

    static func compose(_ input: [UInt8]) {
        let file = Workspace.shared.write(input, name: "compose.yaml")
        let options = ProjectOptions(
            files: [file], projectName: "fuzz", environment: ["X": "x", "Y": "", "HOME": Workspace.shared.directory],
            workingDirectory: Workspace.shared.directory)
        do {
            _ = try ProjectLoader.load(options, logger: Workspace.logger)
        } catch {
            _ = error.description
        }
    }

    static func interpolation(_ text: String) {
        let interpolator = Interpolator(environment: ["X": "x", "Y": "", "EMPTY": "", "LONG": "abc def"])
        do {
            _ = try interpolator.evaluate(text)
        } catch {
            _ = error.description
        }
        _ = Interpolator.variables(in: text)
    }

    static func dotenv(_ text: String) {
        do {
            _ = try DotEnv.parse(text, file: "fuzz.env", defined: ["D": "d"], lookup: { $0 == "X" ? "x" : nil })
        } catch {
            _ = error.description
        }
    }

    static func dockerfile(_ text: String) {
        do {
            _ = try SyntaxTree.parse(text, file: "Dockerfile").dump()
        } catch {
            _ = error.description
        }
        do {
            let parsed = try Dockerfile.parse(text, file: "Dockerfile")
            _ = parsed.validateForClassicBuilder()
            let graph = try StageGraph(dockerfile: parsed, buildArgs: ["A": "a"])
            _ = try graph.baseImages(target: nil)
            _ = try graph.stagesNeeded(target: nil)
        } catch {
            _ = error.description
        }
        // The word lexer on its own, as `ARG`/`ENV` values and `FROM` lines reach it.
        for escape: Character in ["\\", "`"] {
            let lex = ShellLex(escapeToken: escape)
            do {
                _ = try lex.processWords(text, env: ["A": "a", "B": ""])
            } catch {
                _ = error.description
            }
        }
    }

    static func imageReference(_ text: String) throws(FuzzFinding) {
        let reference: ImageReference
        do {
            reference = try ImageReference.parse(text)
        } catch {
            _ = error.description
            return
        }
        // The printed form is what is tagged, pushed and stored in release locks: it must read
        // back as the same reference.
        let printed = reference.description
        do {
            let again = try ImageReference.parse(printed)
            if again != reference {
                throw FuzzFinding("\"\(text)\" prints as \"\(printed)\", which reads back as \(again)")
            }
        } catch let finding as FuzzFinding {
            throw finding
        } catch {
            throw FuzzFinding("\"\(text)\" prints as \"\(printed)\", which does not parse: \(error)")
        }
    }

    static func registry(_ input: [UInt8], _ text: String) {
        // A `WWW-Authenticate` header: the first line of the input.
        let header = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        if let challenge = AuthChallenge.parse(header) {
            _ = challenge.parameters["realm"]
        }
        // A Docker `config.json` with credentials.
        let path = Workspace.shared.write(input, name: "config.json", mode: 0o600)
        let store = CredentialStore(environment: [:], dockerConfigPath: path, logger: Workspace.logger)
        for registry in ["127.0.0.1:5000", "docker.io", "localhost", "a.b"] {
            _ = store.credentials(for: registry)
        }
    }

    static func engine(_ input: [UInt8]) {
        let data = Data(input)
        let decoder = JSONDecoder()
        func decode<T: Decodable>(_ type: T.Type) {
            do {
                _ = try decoder.decode(type, from: data)
            } catch {
                _ = "\(error)"
            }
        }
        decode(ContainerInspect.self)
        decode([ContainerSummary].self)
        decode(EngineEvent.self)
        decode(JSONMessage.self)
        decode(ImageInspect.self)
        decode([Engine.Network].self)
        decode(Volume.self)
        decode(EngineInfo.self)
        decode(EngineVersion.self)
        decode([SwarmService].self)
        decode([SwarmTask].self)
        if let message = try? decoder.decode(JSONMessage.self, from: data) { _ = message.failure }
    }
}

/// A property that did not hold for an input the parser accepted.
public struct FuzzFinding: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var detail: String?

    public init(_ message: String, detail: String? = nil) {
        self.message = message
        self.detail = detail
    }

    public var description: String { detail.map { "\(message)\n\($0)" } ?? message }
}

/// Files the file-based targets read, in one private directory per process.
final class Workspace: Sendable {
    static let shared = Workspace()
    static let logger = Logger(label: "berth.fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

    let directory: String

    private init() {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        directory = "\(base)/berth-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes the bytes to `name` in the directory, replacing what was there, and returns the path.
    func write(_ bytes: [UInt8], name: String, mode: mode_t = 0o644) -> String {
        let path = "\(directory)/\(name)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { return path }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            offset += n
        }
        return path
    }
}
