import FoundationEssentials
import Glibc

/// Writes a `ServiceSpec` as `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]` does,
/// byte for byte, without `Codable`: the spec hash of every desired service is taken on each
/// plan, and `JSONEncoder` pays the Swift runtime's first-use cost (conformance look-ups,
/// generic metadata) for every model type it meets, most of a short command's encoding time.
/// Same bytes as before means the same hash labels: services deployed by an earlier Berth
/// stay unchanged. Tests compare the output with `JSONEncoder`'s, over a spec with every
/// field set (checked by reflection, so a new model field cannot be missed) and random ones.
public enum CanonicalJSON {
    /// The spec's canonical bytes; nil where `JSONEncoder` would fail (a NaN or infinite ratio).
    public static func encode(_ spec: ServiceSpec) -> Data? {
        var w = CanonicalJSONWriter()
        do {
            try spec.writeCanonical(to: &w)
        } catch {
            return nil
        }
        return Data(w.bytes)
    }
}

protocol CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws
}

struct CanonicalJSONWriter {
    struct NonConformingFloat: Error {}

    var bytes: [UInt8] = []
    /// No member or element written yet in the innermost object or array.
    private var atStart = true

    init() { bytes.reserveCapacity(1024) }

    mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        atStart = true
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        atStart = false
    }

    /// Keys are ASCII names without escapes, written in sorted order by the callers.
    private mutating func key(_ name: StaticString) {
        if !atStart { bytes.append(UInt8(ascii: ",")) }
        atStart = false
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ name: StaticString, _ value: String) {
        key(name)
        quoted(value)
    }

    mutating func integer<T: BinaryInteger>(_ name: StaticString, _ value: T) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func bool(_ name: StaticString, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// As `JSONEncoder`: the shortest round-trip form, without a trailing `.0`.
    mutating func double(_ name: StaticString, _ value: Double) throws {
        guard value.isFinite else { throw NonConformingFloat() }
        key(name)
        var s = value.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        bytes.append(contentsOf: s.utf8)
    }

    mutating func strings(_ name: StaticString, _ value: [String]) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, s) in value.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            quoted(s)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// Keys sorted by their UTF-8 bytes, as `JSONEncoder` sorts them outside Apple's platforms.
    mutating func stringMap(_ name: StaticString, _ value: [String: String]) {
        key(name)
        bytes.append(UInt8(ascii: "{"))
        for (i, (k, v)) in value.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }).enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            quoted(k)
            bytes.append(UInt8(ascii: ":"))
            quoted(v)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func value<T: CanonicalJSONEncodable>(_ name: StaticString, _ value: T) throws {
        key(name)
        try value.writeCanonical(to: &self)
    }

    mutating func values<T: CanonicalJSONEncodable>(_ name: StaticString, _ value: [T]) throws {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (i, element) in value.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            try element.writeCanonical(to: &self)
        }
        bytes.append(UInt8(ascii: "]"))
        atStart = false
    }

    /// `JSONEncoder`'s escapes: quote, backslash, \b \f \n \r \t, other control characters as
    /// `\u00xx` (lower-case hex); everything else, `/` included, as is.
    mutating func quoted(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\\")); bytes.append(b)
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\")); bytes.append(b)
            case 0x08: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "b"))
            case 0x0C: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "f"))
            case 0x0A: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 0xF)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

// Members in the order `JSONEncoder` sorts the keys (UTF-8 bytes: upper case first); nil
// fields are left out, as the synthesized `Encodable` does.

extension ServiceSpec: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = endpointSpec { try w.value("EndpointSpec", v) }
        if let v = labels { try w.stringMap("Labels", v) }
        if let v = mode { try w.value("Mode", v) }
        if let v = name { try w.string("Name", v) }
        if let v = rollbackConfig { try w.value("RollbackConfig", v) }
        if let v = taskTemplate { try w.value("TaskTemplate", v) }
        if let v = updateConfig { try w.value("UpdateConfig", v) }
        w.endObject()
    }
}

extension ServiceMode: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = global { try w.value("Global", v) }
        if let v = replicated { try w.value("Replicated", v) }
        w.endObject()
    }
}

extension ServiceMode.Replicated: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = replicas { try w.integer("Replicas", v) }
        w.endObject()
    }
}

extension EmptyObject: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        w.endObject()
    }
}

extension ServiceUpdateConfig: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = delay { try w.integer("Delay", v) }
        if let v = failureAction { try w.string("FailureAction", v) }
        if let v = maxFailureRatio { try w.double("MaxFailureRatio", v) }
        if let v = monitor { try w.integer("Monitor", v) }
        if let v = order { try w.string("Order", v) }
        if let v = parallelism { try w.integer("Parallelism", v) }
        w.endObject()
    }
}

extension EndpointPortConfig: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = name { try w.string("Name", v) }
        if let v = `protocol` { try w.string("Protocol", v) }
        if let v = publishMode { try w.string("PublishMode", v) }
        if let v = publishedPort { try w.integer("PublishedPort", v) }
        if let v = targetPort { try w.integer("TargetPort", v) }
        w.endObject()
    }
}

extension EndpointSpec: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = mode { try w.string("Mode", v) }
        if let v = ports { try w.values("Ports", v) }
        w.endObject()
    }
}

extension TaskSpec: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = containerSpec { try w.value("ContainerSpec", v) }
        if let v = forceUpdate { try w.integer("ForceUpdate", v) }
        if let v = logDriver { try w.value("LogDriver", v) }
        if let v = networks { try w.values("Networks", v) }
        if let v = placement { try w.value("Placement", v) }
        if let v = resources { try w.value("Resources", v) }
        if let v = restartPolicy { try w.value("RestartPolicy", v) }
        w.endObject()
    }
}

extension SwarmDriver: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = name { try w.string("Name", v) }
        if let v = options { try w.stringMap("Options", v) }
        w.endObject()
    }
}

extension NetworkAttachmentConfig: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = aliases { try w.strings("Aliases", v) }
        if let v = driverOpts { try w.stringMap("DriverOpts", v) }
        if let v = target { try w.string("Target", v) }
        w.endObject()
    }
}

extension ResourceRequirements: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = limits { try w.value("Limits", v) }
        if let v = reservations { try w.value("Reservations", v) }
        w.endObject()
    }
}

extension ResourceRequirements.Limit: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = memoryBytes { try w.integer("MemoryBytes", v) }
        if let v = nanoCPUs { try w.integer("NanoCPUs", v) }
        if let v = pids { try w.integer("Pids", v) }
        w.endObject()
    }
}

extension SwarmRestartPolicy: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = condition { try w.string("Condition", v) }
        if let v = delay { try w.integer("Delay", v) }
        if let v = maxAttempts { try w.integer("MaxAttempts", v) }
        if let v = window { try w.integer("Window", v) }
        w.endObject()
    }
}

extension Placement: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = constraints { try w.strings("Constraints", v) }
        if let v = maxReplicas { try w.integer("MaxReplicas", v) }
        if let v = preferences { try w.values("Preferences", v) }
        w.endObject()
    }
}

extension Placement.Preference: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = spread { try w.value("Spread", v) }
        w.endObject()
    }
}

extension Placement.Preference.Spread: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = spreadDescriptor { try w.string("SpreadDescriptor", v) }
        w.endObject()
    }
}

extension SwarmContainerSpec: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = args { try w.strings("Args", v) }
        if let v = capabilityAdd { try w.strings("CapabilityAdd", v) }
        if let v = capabilityDrop { try w.strings("CapabilityDrop", v) }
        if let v = command { try w.strings("Command", v) }
        if let v = configs { try w.values("Configs", v) }
        if let v = dnsConfig { try w.value("DNSConfig", v) }
        if let v = dir { try w.string("Dir", v) }
        if let v = env { try w.strings("Env", v) }
        if let v = groups { try w.strings("Groups", v) }
        if let v = healthCheck { try w.value("HealthCheck", v) }
        if let v = hostname { try w.string("Hostname", v) }
        if let v = hosts { try w.strings("Hosts", v) }
        if let v = image { try w.string("Image", v) }
        if let v = initProcess { try w.bool("Init", v) }
        if let v = labels { try w.stringMap("Labels", v) }
        if let v = mounts { try w.values("Mounts", v) }
        if let v = openStdin { try w.bool("OpenStdin", v) }
        if let v = readOnly { try w.bool("ReadOnly", v) }
        if let v = secrets { try w.values("Secrets", v) }
        if let v = stopGracePeriod { try w.integer("StopGracePeriod", v) }
        if let v = stopSignal { try w.string("StopSignal", v) }
        if let v = sysctls { try w.stringMap("Sysctls", v) }
        if let v = tty { try w.bool("TTY", v) }
        if let v = ulimits { try w.values("Ulimits", v) }
        if let v = user { try w.string("User", v) }
        w.endObject()
    }
}

extension SwarmFileTarget: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = gid { try w.string("GID", v) }
        if let v = mode { try w.integer("Mode", v) }
        if let v = name { try w.string("Name", v) }
        if let v = uid { try w.string("UID", v) }
        w.endObject()
    }
}

extension SecretReference: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = file { try w.value("File", v) }
        if let v = secretID { try w.string("SecretID", v) }
        if let v = secretName { try w.string("SecretName", v) }
        w.endObject()
    }
}

extension ConfigReference: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = configID { try w.string("ConfigID", v) }
        if let v = configName { try w.string("ConfigName", v) }
        if let v = file { try w.value("File", v) }
        w.endObject()
    }
}

extension DNSConfig: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = nameservers { try w.strings("Nameservers", v) }
        if let v = options { try w.strings("Options", v) }
        if let v = search { try w.strings("Search", v) }
        w.endObject()
    }
}

extension Mount: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = bindOptions { try w.value("BindOptions", v) }
        if let v = consistency { try w.string("Consistency", v) }
        if let v = readOnly { try w.bool("ReadOnly", v) }
        if let v = source { try w.string("Source", v) }
        if let v = target { try w.string("Target", v) }
        if let v = tmpfsOptions { try w.value("TmpfsOptions", v) }
        if let v = type { try w.string("Type", v) }
        if let v = volumeOptions { try w.value("VolumeOptions", v) }
        w.endObject()
    }
}

extension Mount.BindOptions: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = nonRecursive { try w.bool("NonRecursive", v) }
        if let v = propagation { try w.string("Propagation", v) }
        w.endObject()
    }
}

extension Mount.DriverConfig: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = name { try w.string("Name", v) }
        if let v = options { try w.stringMap("Options", v) }
        w.endObject()
    }
}

extension Mount.VolumeOptions: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = driverConfig { try w.value("DriverConfig", v) }
        if let v = labels { try w.stringMap("Labels", v) }
        if let v = noCopy { try w.bool("NoCopy", v) }
        w.endObject()
    }
}

extension Mount.TmpfsOptions: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = mode { try w.integer("Mode", v) }
        if let v = sizeBytes { try w.integer("SizeBytes", v) }
        w.endObject()
    }
}

extension HealthConfig: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = interval { try w.integer("Interval", v) }
        if let v = retries { try w.integer("Retries", v) }
        if let v = startPeriod { try w.integer("StartPeriod", v) }
        if let v = test { try w.strings("Test", v) }
        if let v = timeout { try w.integer("Timeout", v) }
        w.endObject()
    }
}

extension Ulimit: CanonicalJSONEncodable {
    func writeCanonical(to w: inout CanonicalJSONWriter) throws {
        w.beginObject()
        if let v = hard { try w.integer("Hard", v) }
        if let v = name { try w.string("Name", v) }
        if let v = soft { try w.integer("Soft", v) }
        w.endObject()
    }
}

