import Compose
import FoundationEssentials
import Glibc
import GitSource
import Logging

/// Loads one app of a GitOps repo as its compose project. Its own module so that both `berth`
/// (repo mode of build and reconcile) and `berth-serve` use it without `berth` linking the server.
public enum AppLoader {
    /// The project name is the app's name unless one of its compose files sets `name:` (DESIGN,
    /// "Identity on the host"). COMPOSE_PROJECT_NAME and COMPOSE_FILE of the environment are
    /// ignored: the repo, not the shell Berth runs in, says what an app is.
    public static func load(_ app: AppConfig, root: URL, services: [String] = [], logger: Logger) throws(AppLoadError) -> Project {
        let directory = root.appendingPathComponent(app.path).standardizedFileURL.path
        var environment = ProcessInfo.processInfo.environment
        environment["COMPOSE_PROJECT_NAME"] = nil
        environment["COMPOSE_FILE"] = nil
        let options = ProjectOptions(files: app.files.map { directory + "/" + $0 }, projectDirectory: directory,
                                     profiles: app.profiles, environment: environment, workingDirectory: directory,
                                     services: services, defaultName: ProjectLoader.normalizeProjectName(app.name))
        do {
            return try ProjectLoader.load(options, logger: logger)
        } catch {
            throw AppLoadError(app: app.name, path: app.path, cause: error)
        }
    }
}

/// An app of the repo whose compose files do not load; the description names the app, its
/// folder, and the compose error (file:line:column and what to do).
public struct AppLoadError: Error, CustomStringConvertible, Sendable {
    public var app: String
    public var path: String
    public var cause: ComposeError

    public var description: String { "app \(app) (\(path)): \(cause)" }
}
