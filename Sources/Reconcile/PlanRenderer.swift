import Foundation

/// Prints a plan for people (terraform-like, colour on a TTY) or machines (JSON).
public struct PlanRenderer: Sendable {
    public var colour: Bool
    public init(colour: Bool) { self.colour = colour }

    public func text(_ plan: Plan, keptOrphans: [String] = []) -> String {
        let swarm = plan.target == "swarm"
        var out = swarm ? "Stack \(plan.project):\n" : "Project \(plan.project):\n"
        for action in plan.actions where action.kind != .unchanged {
            let (symbol, code) = style(action.kind)
            out += "  \(paint(symbol, code)) \(paint(action.kind.rawValue, code)) \(action.target)\n"
            for reason in action.reasons {
                out += "      \(reason)\n"
            }
        }
        let unchanged = plan.count(.unchanged)
        for orphan in keptOrphans {
            out += "  \(paint("!", "33")) orphan \(orphan) (kept; --prune removes it)\n"
        }
        let changes = plan.actions.count - unchanged
        let summary = Action.Kind.allCases.filter { $0 != .unchanged }.compactMap { kind -> String? in
            let n = plan.count(kind)
            return n == 0 ? nil : "\(n) \(kind.rawValue)"
        }
        if changes == 0 {
            let noun = swarm ? "service" : "container"
            out += "  No changes: \(unchanged) \(noun)\(unchanged == 1 ? "" : "s") up to date.\n"
        } else {
            out += "Plan: \(summary.joined(separator: ", ")); \(unchanged) unchanged.\n"
        }
        return out
    }

    public static func json(_ plans: [Plan]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        struct Doc: Encodable { var changes: Bool; var projects: [Plan] }
        guard let data = try? encoder.encode(Doc(changes: plans.contains { $0.hasChanges }, projects: plans)) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    private func style(_ kind: Action.Kind) -> (String, String) {
        switch kind {
        case .create, .createNetwork, .createVolume, .start, .createSecret, .createConfig: return ("+", "32")
        case .replace, .recover: return ("~", "33")
        case .scaleDown, .removeOrphan, .removeVolume, .removeSecret, .removeConfig: return ("-", "31")
        case .unchanged: return ("=", "0")
        }
    }

    private func paint(_ s: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }
}
