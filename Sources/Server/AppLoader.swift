import Compose
import Foundation
import GitSource
import Logging

/// Loads one app of a GitOps repo as its compose project.
public enum AppLoader {
    /// The project name is the app's name unless the compose file sets `name:` (DESIGN,
    /// "Identity on the host"); so load once to learn whether it does.
    public static func load(_ app: AppConfig, root: URL, services: [String] = [], logger: Logger) throws(ServerError) -> Project {
        let directory = root.appendingPathComponent(app.path).standardizedFileURL.path
        var environment = ProcessInfo.processInfo.environment
        environment["COMPOSE_PROJECT_NAME"] = nil
        environment["COMPOSE_FILE"] = nil
        var options = ProjectOptions(files: app.files.map { directory + "/" + $0 }, projectDirectory: directory,
                                     profiles: app.profiles, environment: environment, workingDirectory: directory,
                                     services: services)
        do {
            let first = try ProjectLoader.load(options, logger: logger)
            if first.document["name"] != nil { return first }
            options.projectName = ProjectLoader.normalizeProjectName(app.name)
            return try ProjectLoader.load(options, logger: logger)
        } catch {
            throw ServerError("app \(app.name) (\(app.path)): \(error)")
        }
    }
}
