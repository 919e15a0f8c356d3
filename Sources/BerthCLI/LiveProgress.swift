import Foundation
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
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
