// The state behind `berth build`'s live view on a terminal: one row per service, its current
// step, then its outcome. Pure (no terminal I/O), so the rendering is testable; BerthCLI
// draws the rows in place.

import FoundationEssentials
import Platform
import Glibc

/// One row per planned service, updated from `BuildEvent`s.
public struct BuildProgressBoard: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Not started: waits for a free build slot or for the services it builds FROM.
        case waiting
        /// Started; `step` is the last `Step n/m : …` line, nil before the first.
        case building(step: String?)
        case done(imageID: String, seconds: Double, reused: Bool)
        case failed(String)
        /// Not built because an earlier build failed.
        case skipped
    }

    public struct Row: Sendable, Equatable {
        public var service: String
        public var image: String
        public var state: State
    }

    public private(set) var rows: [Row]

    /// Rows in plan order (dependencies first), all waiting.
    public init(plan: BuildPlan) {
        rows = plan.builds.map { Row(service: $0.service, image: $0.image, state: .waiting) }
    }

    public init(rows: [Row]) { self.rows = rows }

    /// True once no row is waiting or building.
    public var isFinished: Bool {
        rows.allSatisfy {
            switch $0.state {
            case .waiting, .building: false
            default: true
            }
        }
    }

    /// Applies an event; returns false when it changes nothing shown (RUN output lines).
    @discardableResult
    public mutating func apply(_ event: BuildEvent) -> Bool {
        switch event {
        case .started(let service):
            return update(service) { $0 = .building(step: nil) }
        case .step(let service, let text):
            return update(service) { $0 = .building(step: text) }
        case .output:
            return false
        case .finished(let result):
            return update(result.service) { $0 = .done(imageID: result.imageID, seconds: result.seconds, reused: result.reused) }
        case .failed(let error):
            guard let service = error.service else { return false }
            return update(service) { $0 = error.kind == .skipped ? .skipped : .failed(error.message) }
        }
    }

    /// Marks rows still waiting as skipped (the run ended early after a failure).
    public mutating func skipWaiting() {
        for i in rows.indices where rows[i].state == .waiting { rows[i].state = .skipped }
    }

    private mutating func update(_ service: String, _ change: (inout State) -> Void) -> Bool {
        guard let i = rows.firstIndex(where: { $0.service == service }) else { return false }
        let before = rows[i].state
        change(&rows[i].state)
        return rows[i].state != before
    }

    /// One line per service, each at most `width` columns (characters): `web  | [3/5] RUN make`.
    /// `colour` adds ANSI colour to the marks.
    public func render(width: Int, colour: Bool = false) -> [String] {
        let nameWidth = rows.map(\.service.count).max() ?? 0
        return rows.map { row in
            let (mark, markColour, text) = Self.describe(row)
            let name = row.service.fitted(to: nameWidth)
            let plain = "\(mark) \(name)  \(text)"
            let line = Self.truncate(plain, to: max(width, 10))
            guard colour, let markColour else { return line }
            // Colour only the mark; the truncation was measured on the plain text.
            return "\u{1B}[\(markColour)m\(mark)\u{1B}[0m" + line.dropFirst(mark.count)
        }
    }

    static func describe(_ row: Row) -> (mark: String, colour: String?, text: String) {
        switch row.state {
        case .waiting:
            return ("·", nil, "waiting")
        case .building(let step):
            return ("…", "36", step.map(Self.compactStep) ?? "sending the context (\(row.image))")
        case .done(let id, let seconds, let reused):
            let short = id.hasPrefix("sha256:") ? String(id.dropFirst(7).prefix(12)) : String(id.prefix(12))
            return ("✔", "32", "\(reused ? "reused" : "built") \(short) \(row.image) " + "in " + Number.fixed(seconds, digits: 1) + "s")
        case .failed(let message):
            return ("✘", "31", "FAILED: " + (message.split(separator: "\n").first.map(String.init) ?? message))
        case .skipped:
            return ("-", "33", "skipped (an earlier build failed)")
        }
    }

    /// `Step 3/5 : RUN gcc -O2 …` → `[3/5] RUN gcc -O2 …`.
    public static func compactStep(_ text: String) -> String {
        guard text.hasPrefix("Step "), let colon = text.firstRange(of: " : ") else { return text }
        let numbers = text[text.index(text.startIndex, offsetBy: 5)..<colon.lowerBound]
        return "[\(numbers)] " + text[colon.upperBound...].replacing("\n", with: " ")
    }

    static func truncate(_ line: String, to width: Int) -> String {
        guard line.count > width else { return line }
        return String(line.prefix(width - 1)) + "…"
    }
}
