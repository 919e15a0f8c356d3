/// Go-style durations (`1m30s`, `1.5h`, `300ms`) and Docker byte sizes (`512m`, `1gb`, `1024`).
public enum Units {
    public static func parseDuration(_ text: String) -> Duration? {
        var s = Substring(text)
        var negative = false
        if s.hasPrefix("-") { negative = true; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        if s == "0" { return .zero }
        guard !s.isEmpty else { return nil }
        var totalNanos: Double = 0
        while !s.isEmpty {
            let number = s.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            s = s.dropFirst(number.count)
            let unit = s.prefix { !($0.isNumber || $0 == ".") }
            s = s.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            totalNanos += value * scale
        }
        let nanos = Int64(totalNanos.rounded())
        let d = Duration.nanoseconds(nanos)
        return negative ? .zero - d : d
    }

    /// Formats like Go's `time.Duration.String()` (`1m30s`, `500ms`, `0s`).
    public static func formatDuration(_ d: Duration) -> String {
        let (seconds, attos) = d.components
        var nanos = seconds * 1_000_000_000 + attos / 1_000_000_000
        if nanos == 0 { return "0s" }
        var sign = ""
        if nanos < 0 { sign = "-"; nanos = -nanos }
        if nanos < 1_000_000_000 {
            if nanos % 1_000_000 == 0 { return "\(sign)\(nanos / 1_000_000)ms" }
            if nanos % 1_000 == 0 { return "\(sign)\(nanos / 1_000)µs" }
            return "\(sign)\(nanos)ns"
        }
        var text = ""
        let hours = nanos / 3_600_000_000_000
        nanos -= hours * 3_600_000_000_000
        let minutes = nanos / 60_000_000_000
        nanos -= minutes * 60_000_000_000
        if hours > 0 { text += "\(hours)h" }
        if hours > 0 || minutes > 0 { text += "\(minutes)m" }
        let wholeSeconds = nanos / 1_000_000_000
        let fraction = nanos % 1_000_000_000
        if fraction == 0 {
            text += "\(wholeSeconds)s"
        } else {
            var frac = String(fraction)
            frac = String(repeating: "0", count: 9 - frac.count) + frac
            while frac.hasSuffix("0") { frac.removeLast() }
            text += "\(wholeSeconds).\(frac)s"
        }
        return sign + text
    }

    /// Byte sizes with binary multiples: `b`, `k`, `m`, `g`, `t`, `p`, optionally followed by
    /// `b` or `ib` (`512m`, `1.5GB`, `64kib`).
    public static func parseBytes(_ text: String) -> Int64? {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        let number = s.prefix { $0.isNumber || $0 == "." }
        guard !number.isEmpty, let value = Double(number) else { return nil }
        var unit = s.dropFirst(number.count)
        if unit.hasPrefix(" ") { unit = unit.dropFirst() }
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kb", "kib": scale = 1024
        case "m", "mb", "mib": scale = 1024 * 1024
        case "g", "gb", "gib": scale = 1024 * 1024 * 1024
        case "t", "tb", "tib": scale = 1024 * 1024 * 1024 * 1024
        case "p", "pb", "pib": scale = 1024 * 1024 * 1024 * 1024 * 1024
        default: return nil
        }
        return Int64(value * scale)
    }
}

import Foundation
