/// Names and labels Berth puts on engine objects. The compose labels make `docker compose ps`
/// and `docker ps --filter label=…` show Berth's containers as a compose project's.
public enum Labels {
    public static let project = "com.docker.compose.project"
    public static let service = "com.docker.compose.service"
    public static let containerNumber = "com.docker.compose.container-number"
    public static let oneoff = "com.docker.compose.oneoff"
    public static let configHash = "com.docker.compose.config-hash"
    public static let workingDir = "com.docker.compose.project.working_dir"
    public static let configFiles = "com.docker.compose.project.config_files"
    public static let composeVersion = "com.docker.compose.version"
    public static let network = "com.docker.compose.network"
    public static let volume = "com.docker.compose.volume"
    public static let dependsOn = "com.docker.compose.depends_on"
    public static let image = "com.docker.compose.image"

    public static let app = "dev.berth.app"
    public static let revision = "dev.berth.revision"
    public static let release = "dev.berth.release"
    /// The canonical spec the container was created from, so a plan can say which fields
    /// changed (the hash alone only says that something did).
    public static let spec = "dev.berth.spec"
    /// Set while a container is not in its final place: `old` (set aside during a stop-first
    /// replace) or `new` (started beside the old one during a start-first replace). Names carry
    /// the same role so a crashed run can be finished or rolled back from names alone.
    public static let role = "dev.berth.role"
}

public enum Naming {
    public static let asideSuffix = "-berth-old"
    public static let newSuffix = "-berth-new"

    public static func container(project: String, service: String, number: Int) -> String {
        "\(project)-\(service)-\(number)"
    }

    public static func network(project: String, name: String) -> String {
        "\(project)_\(name)"
    }

    public static func volume(project: String, name: String) -> String {
        "\(project)_\(name)"
    }
}
