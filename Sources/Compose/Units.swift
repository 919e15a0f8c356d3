/// Go-style durations (`1m30s`, `1.5h`, `300ms`) and Docker byte sizes (`512m`, `1gb`, `1024`).
public enum Units {
    // Both parsers scan bytes: Character-level scanning showed up when decoding hundreds of
    // services. Only ASCII digits and "." can form a number; anything else is part of the unit
    // (so a non-ASCII digit still makes the value invalid, as before).

    public static func parseDuration(_ text: String) -> Duration? {
        var bytes = Substring(text).utf8[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") { negative = true; bytes = bytes.dropFirst() }
        else if bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        if bytes.elementsEqual("0".utf8) { return .zero }
        guard !bytes.isEmpty else { return nil }
        var totalNanos: Double = 0
        while !bytes.isEmpty {
            let number = bytes.prefix(while: isNumberByte)
            guard !number.isEmpty, let value = Double(String(decoding: number, as: UTF8.self)) else { return nil }
            bytes = bytes.dropFirst(number.count)
            let unitBytes = bytes.prefix { !isNumberByte($0) }
            bytes = bytes.dropFirst(unitBytes.count)
            let scale: Double
            switch String(decoding: unitBytes, as: UTF8.self) {
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

    private static func isNumberByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".")
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
        var bytes = text.utf8[...]
        while let c = bytes.first, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { bytes = bytes.dropFirst() }
        while let c = bytes.last, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { bytes = bytes.dropLast() }
        let number = bytes.prefix(while: isNumberByte)
        guard !number.isEmpty, let value = Double(String(decoding: number, as: UTF8.self)) else { return nil }
        var unit = bytes.dropFirst(number.count)
        if unit.first == UInt8(ascii: " ") { unit = unit.dropFirst() }
        let scale: Double
        switch String(decoding: unit, as: UTF8.self).lowercased() {
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

import FoundationEssentials
import Glibc
