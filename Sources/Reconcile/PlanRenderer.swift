import FoundationEssentials
import Glibc

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

    /// The JSON document of `reconcile --output json`:
    /// `{"projects":[{"name":…,"inSync":bool,"actions":[{"action":…,"service":…,"container":…,"reasons":[…]}]}]}`
    /// plus, once applied, each action's `status` (`done`, `failed`, `rolled-back`) and `error`.
    public static func json(_ projects: [(plan: Plan, keptOrphans: [String], report: Applier.Report?)], dryRun: Bool) -> String {
        let docs = projects.map { item in
            ProjectDocument(name: item.plan.project, inSync: !item.plan.hasChanges, keptOrphans: item.keptOrphans,
                            actions: item.plan.actions.map { ActionDocument($0, outcome: item.report?.outcome(of: $0)) })
        }
        let applied = projects.compactMap(\.report)
        let document = Document(changes: projects.contains { $0.plan.hasChanges }, dryRun: dryRun,
                                ok: applied.allSatisfy(\.ok), projects: docs)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(document) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    struct Document: Encodable {
        var changes: Bool
        var dryRun: Bool
        var ok: Bool
        var projects: [ProjectDocument]
    }

    struct ProjectDocument: Encodable {
        var name: String
        var inSync: Bool
        var keptOrphans: [String]
        var actions: [ActionDocument]
    }

    struct ActionDocument: Encodable {
        var action: String
        var service: String?
        var container: String?
        var network: String?
        var volume: String?
        var reasons: [String]
        var status: String?
        var error: String?

        init(_ a: Action, outcome: Applier.Outcome?) {
            action = a.kind.rawValue
            service = a.service
            reasons = a.reasons
            switch a.kind {
            case .createNetwork: network = a.target
            case .createVolume, .removeVolume: volume = a.target
            default: container = a.target
            }
            if let outcome {
                status = outcome.ok ? "done" : (outcome.rolledBack ? "rolled-back" : "failed")
                error = outcome.error
            }
        }
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
