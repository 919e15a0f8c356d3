import FoundationEssentials
import Platform
import Glibc
import Build
import Reconcile

/// Progress of an apply as it happens: coloured and marked on a terminal, plain
/// `berth: …` lines otherwise (CI logs), always on stderr so stdout stays the plan/result.
enum LiveProgress {
    @Sendable static func print(_ event: Applier.Event) {
        let tty = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        let line: String
        switch event {
        case .started(let action):
            guard action.kind != .unchanged else { return }
            line = tty ? "  \u{1B}[36m…\u{1B}[0m \(action.kind.rawValue) \(action.target)" : "berth: \(action.kind.rawValue) \(action.target): started"
        case .waiting(let container, let what):
            line = tty ? "  \u{1B}[36m⧗\u{1B}[0m \(container): waiting for \(what)" : "berth: \(container): waiting for \(what)"
        case .finished(let outcome):
            guard outcome.action.kind != .unchanged else { return }
            let state = outcome.ok ? "done" : (outcome.rolledBack ? "rolled back" : "failed")
            let mark = outcome.ok ? "\u{1B}[32m✔\u{1B}[0m" : "\u{1B}[31m✘\u{1B}[0m"
            line = tty ? "  \(mark) \(outcome.action.kind.rawValue) \(outcome.action.target)"
                       : "berth: \(outcome.action.kind.rawValue) \(outcome.action.target): \(state)"
        }
        File.standardError.write(Data((line + "\n").utf8))
    }
}

/// `berth build` on a terminal: one line per service, redrawn in place as steps go by.
/// Off a terminal the build prints plain `service | Step …` lines instead (see BuildCommand).
final class BuildLiveView: @unchecked Sendable {
    private let lock = Lock()
    private var board: BuildProgressBoard
    private let handle: File
    private let colour: Bool
    private var drawn = 0

    /// A live view when `fd` is a terminal (and TERM is not dumb); nil otherwise.
    static func onTerminal(_ plan: BuildPlan, fd: Int32, handle: File) -> BuildLiveView? {
        let env = ProcessInfo.processInfo.environment
        guard isatty(fd) == 1, env["TERM"] != "dumb", env["BERTH_NO_LIVE"] == nil, !plan.builds.isEmpty else { return nil }
        return BuildLiveView(plan: plan, handle: handle, colour: env["NO_COLOR"] == nil)
    }

    init(plan: BuildPlan, handle: File, colour: Bool) {
        board = BuildProgressBoard(plan: plan)
        self.handle = handle
        self.colour = colour
    }

    func handle(_ event: BuildEvent) {
        lock.withLock {
            guard board.apply(event) else { return }
            redraw()
        }
    }

    /// The run ended: settle the rows and leave the cursor below them.
    func finish() {
        lock.withLock {
            board.skipWaiting()
            redraw()
        }
    }

    /// Moves up over the rows drawn last time and draws them again, each line cleared first.
    private func redraw() {
        var out = ""
        if drawn > 0 { out += "\u{1B}[\(drawn)A" }
        let lines = board.render(width: Self.columns() - 1, colour: colour)
        for line in lines { out += "\r\u{1B}[2K" + line + "\n" }
        drawn = lines.count
        handle.write(Data(out.utf8))
    }

    static func columns() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}
