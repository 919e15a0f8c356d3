import ArgumentParser

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that this host can run Berth: engine, registry, libraries.")
    func run() async throws {}
}
