import BerthYAML
import Compose
import Foundation
import GitSource
import Logging

/// Loads one app of a GitOps repo as its compose project.
public enum AppLoader {
    /// The project name is the app's name unless one of its compose files sets `name:` (DESIGN,
    /// "Identity on the host"). The loaded document always has a name, so the files are asked.
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
            if first.configFiles.contains(where: setsName) { return first }
            options.projectName = ProjectLoader.normalizeProjectName(app.name)
            return try ProjectLoader.load(options, logger: logger)
        } catch {
            throw ServerError("app \(app.name) (\(app.path)): \(error)")
        }
    }

    /// Whether a compose file has a top-level `name:` (the loader already read it, so it parses).
    static func setsName(_ path: String) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let document = try? YAML.parse(text, file: path) else { return false }
        return document["name"] != nil
    }
}
