import BerthYAML

/// One published port in long syntax.
public struct PortConfig: Sendable, Hashable, Codable {
    public var name: String?
    public var mode: String?
    public var hostIP: String?
    public var target: Int
    /// A single port or a range (`8000-8010`); nil when the engine picks one.
    public var published: String?
    public var `protocol`: String
    public var appProtocol: String?

    public init(name: String? = nil, mode: String? = "ingress", hostIP: String? = nil, target: Int,
                published: String? = nil, protocol: String = "tcp", appProtocol: String? = nil) {
        self.name = name
        self.mode = mode
        self.hostIP = hostIP
        self.target = target
        self.published = published
        self.protocol = `protocol`
        self.appProtocol = appProtocol
    }

    /// Parses `[[HOST_IP:]HOST_PORT[-RANGE]:]CONTAINER_PORT[-RANGE][/PROTOCOL]`, one entry per
    /// container port of a range. IPv6 host addresses may be bracketed (`[::1]:80:80`).
    public static func parseShort(_ spec: String) throws(ComposeError) -> [PortConfig] {
        let invalid = ComposeError("\"\(spec)\" is not a valid port mapping")
        var body = Substring(spec)
        var proto = "tcp"
        if let slash = body.lastIndex(of: "/") {
            proto = String(body[body.index(after: slash)...]).lowercased()
            body = body[..<slash]
            guard ["tcp", "udp", "sctp"].contains(proto) else {
                throw ComposeError("\"\(spec)\" is not a valid port mapping: unknown protocol \"\(proto)\"")
            }
        }
        var ip: String?
        var host = ""
        var container = ""
        if body.hasPrefix("[") {
            guard let close = body.firstIndex(of: "]") else { throw invalid }
            ip = String(body[body.index(after: body.startIndex)..<close])
            let rest = body[body.index(after: close)...]
            guard rest.hasPrefix(":") else { throw invalid }
            let parts = rest.dropFirst().split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw invalid }
            host = String(parts[0]); container = String(parts[1])
        } else {
            let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            switch parts.count {
            case 1: container = parts[0]
            case 2: host = parts[0]; container = parts[1]
            case 3: ip = parts[0]; host = parts[1]; container = parts[2]
            default:
                ip = parts[..<(parts.count - 2)].joined(separator: ":")
                host = parts[parts.count - 2]; container = parts[parts.count - 1]
            }
        }
        if let address = ip {
            guard isIPAddress(address) else {
                throw ComposeError("\"\(spec)\" is not a valid port mapping: invalid host IP \"\(address)\"")
            }
        }
        guard let targets = portRange(container) else { throw invalid }
        var publishedRange: ClosedRange<Int>?
        if !host.isEmpty {
            guard let r = portRange(host) else { throw invalid }
            publishedRange = r
        }
        var result: [PortConfig] = []
        if let published = publishedRange {
            if targets.count == 1 {
                let text = published.count == 1 ? String(published.lowerBound) : "\(published.lowerBound)-\(published.upperBound)"
                result.append(PortConfig(hostIP: ip, target: targets.lowerBound, published: text, protocol: proto))
            } else {
                guard published.count == targets.count else {
                    throw ComposeError("\"\(spec)\" is not a valid port mapping: host and container port ranges differ in size")
                }
                for (t, p) in zip(targets, published) {
                    result.append(PortConfig(hostIP: ip, target: t, published: String(p), protocol: proto))
                }
            }
        } else {
            for t in targets { result.append(PortConfig(hostIP: ip, target: t, published: nil, protocol: proto)) }
        }
        return result
    }

    static func portRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        guard let low = Int(parts[0]), (0...65535).contains(low) else { return nil }
        let high = parts.count == 2 ? Int(parts[1]) : low
        guard let high, high >= low, high <= 65535 else { return nil }
        return low...high
    }

    static func isIPAddress(_ s: String) -> Bool {
        let v4 = s.split(separator: ".", omittingEmptySubsequences: false)
        if v4.count == 4, v4.allSatisfy({ p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isNumber) && (Int(p) ?? 256) < 256 }) {
            return true
        }
        guard s.contains(":") else { return false }
        let allowed = Set("0123456789abcdefABCDEF:.")
        return s.allSatisfy { allowed.contains($0) } && s.filter({ $0 == ":" }).count <= 7
    }

    var node: YAMLNode {
        var pairs: [(String, YAMLNode)] = []
        if let name { pairs.append(("name", .string(name))) }
        if let mode { pairs.append(("mode", .string(mode))) }
        if let hostIP { pairs.append(("host_ip", .string(hostIP))) }
        pairs.append(("target", .int(target)))
        if let published { pairs.append(("published", .string(published))) }
        pairs.append(("protocol", .string(`protocol`)))
        if let appProtocol { pairs.append(("app_protocol", .string(appProtocol))) }
        return .mapping(pairs)
    }
}

/// A service mount in long syntax.
public struct VolumeSpec: Sendable, Hashable {
    public var type: String
    public var source: String?
    public var target: String
    public var readOnly: Bool
    public var propagation: String?
    public var selinux: String?
    public var createHostPath: Bool
    public var nocopy: Bool

    /// Parses `[SOURCE:]TARGET[:MODE]`. A source starting with `/`, `.` or `~` is a bind mount;
    /// another source names a volume; no source makes an anonymous volume.
    public static func parseShort(_ spec: String) throws(ComposeError) -> VolumeSpec {
        var parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        // A Windows drive letter (`C:\data`) belongs to the path.
        if parts.count > 1, parts[0].count == 1, parts[0].first?.isLetter == true, parts[1].hasPrefix("\\") {
            parts[1] = parts[0] + ":" + parts[1]
            parts.removeFirst()
        }
        guard !spec.isEmpty, parts.count <= 3, !parts.contains(where: \.isEmpty) else {
            throw ComposeError("\"\(spec)\" is not a valid volume specification")
        }
        var v = VolumeSpec(type: "volume", source: nil, target: "", readOnly: false, propagation: nil, selinux: nil,
                           createHostPath: false, nocopy: false)
        switch parts.count {
        case 1:
            v.target = parts[0]
        default:
            v.source = parts[0]
            v.target = parts[1]
        }
        if parts.count == 3 {
            for option in parts[2].split(separator: ",") {
                switch option {
                case "ro": v.readOnly = true
                case "rw": v.readOnly = false
                case "z", "Z": v.selinux = String(option)
                case "nocopy": v.nocopy = true
                case "shared", "rshared", "slave", "rslave", "private", "rprivate": v.propagation = String(option)
                default:
                    throw ComposeError("\"\(spec)\" is not a valid volume specification: unknown option \"\(option)\"")
                }
            }
        }
        if let source = v.source, source.hasPrefix("/") || source.hasPrefix(".") || source.hasPrefix("~")
            || source.contains("\\") || (source.count > 1 && source.dropFirst().hasPrefix(":")) {
            v.type = "bind"
            v.createHostPath = true
        }
        return v
    }

    var node: YAMLNode {
        var pairs: [(String, YAMLNode)] = [("type", .string(type))]
        if let source { pairs.append(("source", .string(source))) }
        pairs.append(("target", .string(target)))
        if readOnly { pairs.append(("read_only", .bool(true))) }
        if type == "bind" {
            var bind: [(String, YAMLNode)] = []
            if let propagation { bind.append(("propagation", .string(propagation))) }
            if createHostPath { bind.append(("create_host_path", .bool(true))) }
            if let selinux { bind.append(("selinux", .string(selinux))) }
            pairs.append(("bind", .mapping(bind)))
        } else if type == "volume" {
            pairs.append(("volume", nocopy ? .mapping([("nocopy", .bool(true))]) : .mapping([(String, YAMLNode)]())))
        }
        return .mapping(pairs)
    }
}
