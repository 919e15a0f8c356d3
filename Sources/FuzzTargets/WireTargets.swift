import Engine
import Foundation
import Registry

// Targets for what registries and the engine send back on the wire: bearer challenges and token
// bodies, distribution error bodies, JSON-lines progress streams and multiplexed log frames.
// Each checks properties of what the parser returned, not only that it returned.

extension FuzzTarget {
    /// Scopes a push asks for; the token URL must carry each of them.
    static let requestedScopes = ["repository:acme/web:pull,push", "repository:acme/base:pull"]

    /// Line 1: a `WWW-Authenticate` header. The rest: the token service's JSON answer.
    static func registryToken(_ input: [UInt8]) throws(FuzzFinding) {
        let (headerBytes, body) = splitFirstLine(input)
        let header = String(decoding: headerBytes, as: UTF8.self)
        if let challenge = AuthChallenge.parse(header) {
            try checkChallenge(challenge, header: header)
        }
        // The challenge as the token fetch sees it even when the header was not a bearer one.
        if let challenge = AuthChallenge.parse("Bearer " + header) {
            try checkChallenge(challenge, header: "Bearer " + header)
        }
        try checkToken(Data(body))
    }

    static func checkChallenge(_ challenge: AuthChallenge, header: String) throws(FuzzFinding) {
        guard header.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix(challenge.scheme.rawValue) else {
            throw FuzzFinding("challenge scheme \(challenge.scheme) is not how \"\(header)\" starts")
        }
        for name in challenge.parameters.keys where name != name.lowercased() {
            throw FuzzFinding("parameter name \"\(name)\" is not lower-cased", detail: header)
        }
        // Without escapes every value is a run of the header's own bytes: the realm the token is
        // fetched from came from the registry, nothing was made up or joined.
        if !header.utf8.contains(UInt8(ascii: "\\")) {
            for (name, value) in challenge.parameters where !contains(Array(header.utf8), Array(value.utf8)) {
                throw FuzzFinding("\(name)=\"\(value)\" is not in the header", detail: header)
            }
        }
        // Written back as a header (values quoted and escaped) it reads the same. ASCII only:
        // the parser walks Characters, and a combining mark after a separator joins it.
        if header.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            let printed = challenge.scheme.rawValue + " " + challenge.parameters.sorted { $0.key < $1.key }.map { name, value in
                let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                return "\(name)=\"\(escaped)\""
            }.joined(separator: ", ")
            let again = AuthChallenge.parse(printed)
            // A name that is itself empty or made of separators cannot be written back unambiguously.
            let writable = challenge.parameters.keys.allSatisfy { !$0.isEmpty && !$0.contains("=") && !$0.contains("\"") }
            if writable, again != challenge {
                throw FuzzFinding("challenge does not survive printing: \(challenge) -> \"\(printed)\" -> \(String(describing: again))",
                    detail: header)
            }
        }
        guard let (realm, url) = challenge.tokenURL(scopes: requestedScopes) else {
            if let realm = challenge.parameters["realm"], let c = URLComponents(string: realm), c.scheme == "http" || c.scheme == "https" {
                throw FuzzFinding("usable realm \"\(realm)\" gave no token URL")
            }
            return
        }
        guard realm == challenge.parameters["realm"] else {
            throw FuzzFinding("token URL built from \"\(realm)\", not the challenge's realm", detail: header)
        }
        guard url.scheme == "http" || url.scheme == "https" else {
            throw FuzzFinding("token URL scheme \(url.scheme ?? "nil") from realm \"\(realm)\"")
        }
        guard let printed = url.string else { return }   // fetchToken reports such a realm as unusable
        guard let again = URLComponents(string: printed) else {
            throw FuzzFinding("token URL \"\(printed)\" does not parse back", detail: header)
        }
        guard again.host == URLComponents(string: realm)?.host else {
            throw FuzzFinding("token URL \"\(printed)\" goes to \(again.host ?? "nil"), the realm \"\(realm)\" to another host")
        }
        let scopes = (again.queryItems ?? []).filter { $0.name == "scope" }.compactMap(\.value)
        for scope in requestedScopes where !scopes.contains(scope) {
            throw FuzzFinding("token URL \"\(printed)\" lost the scope \(scope)", detail: header)
        }
    }

    static func checkToken(_ body: Data) throws(FuzzFinding) {
        guard let token = BearerToken.parse(body) else { return }
        guard !token.token.isEmpty else { throw FuzzFinding("empty token accepted") }
        guard token.lifetime >= 10 else { throw FuzzFinding("token lifetime \(token.lifetime) s from expires_in \(String(describing: token.expiresIn))") }
        let now = ContinuousClock.now
        guard token.expiry(from: now) > now else { throw FuzzFinding("token from \(token) expires before it is used") }
        // The token is sent back verbatim in a header: what was decoded is what the JSON said.
        guard let again = try? JSONEncoder().encode(["token": token.token]), BearerToken.parse(again)?.token == token.token else {
            throw FuzzFinding("token \(token.token.debugDescription) does not survive JSON")
        }
    }

    /// Line 1: `<status> [Retry-After value]`. The rest: the registry's error body.
    static func registryError(_ input: [UInt8]) throws(FuzzFinding) {
        let (line, body) = splitFirstLine(input)
        let words = String(decoding: line, as: UTF8.self).split(separator: " ", maxSplits: 1)
        let status = words.first.flatMap { Int($0) }.map { min(max($0, 100), 599) } ?? 500
        var headers: [(String, String)] = []
        if words.count > 1 { headers.append(("Retry-After", String(words[1]))) }
        let password = "s3cr3t-pw"
        let url = "http://fuzz:\(password)@127.0.0.1:5000/v2/acme/web/blobs/uploads/"
        let data = Data(body)
        let details = RegistryError.parseDetails(data)
        let e = RegistryError.from(status: status, headers: headers, body: data, method: "PUT", url: url, doing: "pushing acme/web")

        guard e.codes == details.map(\.code) else { throw FuzzFinding("codes \(e.codes), body says \(details.map(\.code))") }
        let denied = details.contains { $0.code == "DENIED" }
        let expected: RegistryError.Kind = status == 401 ? .unauthorized : status == 403 || denied ? .denied : .registry(status: status)
        guard e.kind == expected else { throw FuzzFinding("status \(status) with codes \(e.codes) gave kind \(e.kind), not \(expected)") }
        if case .registry = e.kind, e.isRetryable != (status >= 500 || status == 429) {
            throw FuzzFinding("status \(status): retryable is \(e.isRetryable)")
        }
        let text = e.description
        guard text.contains("PUT http://***@127.0.0.1:5000/v2/acme/web/blobs/uploads/") else {
            throw FuzzFinding("the error does not say which request failed: \(text)")
        }
        // Every detail says something (an empty code reads as UNKNOWN) and the error shows it.
        guard details.allSatisfy({ !$0.code.isEmpty }), details.isEmpty == !text.contains("(registry says: "),
            details.allSatisfy({ text.contains($0.description) })
        else {
            throw FuzzFinding("registry's details \(details) missing from: \(text)")
        }
        if !data.contains(Data(password.utf8)), text.contains(password) {
            throw FuzzFinding("the error prints the URL's password: \(text)")
        }
        if let seconds = e.retryAfter {
            let delay = RegistryClient.delay(retryAfter: seconds)
            guard delay >= .zero, delay <= .seconds(60) else {
                throw FuzzFinding("Retry-After \(seconds) waits \(delay)")
            }
        }
    }

    /// A pull/build/push progress stream (and the events stream), fed in reads whose sizes come
    /// from the input itself.
    static func engineProgress(_ input: [UInt8]) throws(FuzzFinding) {
        let whole = decodeLines(JSONMessage.self, [input])
        let pieces = decodeLines(JSONMessage.self, chunks(of: input))
        guard whole == pieces else {
            throw FuzzFinding("the same stream in other reads decodes differently: \(whole) vs \(pieces)")
        }
        let newlines = input.count { $0 == 0x0A }
        guard whole.count <= newlines + 1 else {
            throw FuzzFinding("\(whole.count) values from \(newlines + 1) lines")
        }
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        for case .value(let message) in whole {
            // What a failed pull reports is what the engine said, after storing and reading back.
            let again: JSONMessage
            do {
                again = try decoder.decode(JSONMessage.self, from: try encoder.encode(message))
            } catch {
                throw FuzzFinding("\(message) does not survive JSON: \(error)")
            }
            guard again == message else { throw FuzzFinding("\(message) reads back as \(again)") }
            if let failure = message.failure, failure.isEmpty { throw FuzzFinding("empty failure in \(message)") }
        }
        guard decodeLines(EngineEvent.self, [input]) == decodeLines(EngineEvent.self, chunks(of: input)) else {
            throw FuzzFinding("the same events stream in other reads decodes differently")
        }
    }

    /// A multiplexed log/attach stream, fed whole and in reads whose sizes come from the input.
    static func engineLogs(_ input: [UInt8]) throws(FuzzFinding) {
        let (whole, leftWhole) = demux([input])
        let (pieces, leftPieces) = demux(chunks(of: input))
        guard whole == pieces, leftWhole == leftPieces else {
            throw FuzzFinding("the same stream in other reads gives other frames: \(whole.count) vs \(pieces.count) frames")
        }
        // Every byte is either in a frame (8 header bytes + payload) or still waiting.
        let payload = whole.reduce(0) { $0 + $1.data.count }
        guard payload <= input.count, payload + 8 * whole.count + leftWhole == input.count else {
            throw FuzzFinding("\(whole.count) frames with \(payload) payload bytes and \(leftWhole) pending from \(input.count) bytes")
        }
        // And each frame is exactly the bytes its header announced, from the stream its header named.
        var offset = 0
        for frame in whole {
            let declared = input[(offset + 4)..<(offset + 8)].reduce(0) { $0 << 8 | Int($1) }
            let source = LogSource(rawValue: input[offset]) ?? .stdout
            guard frame.source == source, frame.data.count == declared,
                frame.data.elementsEqual(input[(offset + 8)..<(offset + 8 + declared)])
            else {
                throw FuzzFinding("frame at byte \(offset) is not the bytes its header announced")
            }
            offset += 8 + declared
        }
    }

    // MARK: - Helpers

    enum Line<Element: Hashable>: Hashable {
        case value(Element)
        case error(String)
    }

    /// Every line's outcome, reading past errors, as `JSONLines` would line after line.
    static func decodeLines<Element: Decodable & Hashable>(_ type: Element.Type, _ chunks: [[UInt8]]) -> [Line<Element>] {
        var decoder = JSONLineDecoder<Element>()
        var out: [Line<Element>] = []
        func drain() {
            while true {
                do {
                    guard let value = try decoder.next() else { return }
                    out.append(.value(value))
                } catch {
                    out.append(.error(error.message))
                }
            }
        }
        for chunk in chunks {
            decoder.append(Data(chunk))
            drain()
        }
        decoder.end()
        drain()
        if decoder.pendingByteCount != 0 { out.append(.error("\(decoder.pendingByteCount) bytes left after the end")) }
        return out
    }

    static func demux(_ chunks: [[UInt8]]) -> ([LogFrame], Int) {
        var demuxer = LogFrameDemuxer()
        var frames: [LogFrame] = []
        for chunk in chunks {
            demuxer.append(Data(chunk))
            while let frame = demuxer.next() { frames.append(frame) }
        }
        return (frames, demuxer.pendingByteCount)
    }

    /// The input cut into reads of 1 to 64 bytes, the sizes taken from the input's own bytes so
    /// libFuzzer steers where frames and lines are split.
    static func chunks(of input: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var offset = 0
        var i = 0
        while offset < input.count {
            let size = 1 + Int(input[i % input.count] % 64)
            out.append(Array(input[offset..<min(input.count, offset + size)]))
            offset += size
            i += 1
        }
        return out
    }

    static func splitFirstLine(_ input: [UInt8]) -> ([UInt8], [UInt8]) {
        guard let nl = input.firstIndex(of: 0x0A) else { return (input, []) }
        return (Array(input[..<nl]), Array(input[(nl + 1)...]))
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        if needle.isEmpty { return true }
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}

extension FuzzTarget {
    /// Engine list answers read by the planner's slim scanner: whenever `JSONDecoder` reads the
    /// bytes as services, networks or an image, the scanner must read them too and agree on
    /// every field a plan compares (a disagreement would plan against a different swarm).
    static func engineSummary(_ input: [UInt8]) throws(FuzzFinding) {
        let data = Data(input)
        // JSONDecoder takes control characters (even a raw newline) inside strings, which JSON
        // forbids, the engine never sends and the scanner refuses: inputs with any are only run.
        guard !input.contains(where: { $0 < 0x20 }) else {
            _ = try? SwarmServiceSummary.list(json: data)
            _ = try? NetworkSummary.list(json: data)
            _ = try? ImageIdentity(json: data)
            return
        }
        let slimServices = Result { try SwarmServiceSummary.list(json: data) }
        if let full = try? JSONDecoder().decode([SwarmService].self, from: data) {
            guard case .success(let slim) = slimServices else {
                throw FuzzFinding("the decoder read \(full.count) services, the scanner failed: \(slimServices)")
            }
            guard slim.count == full.count else { throw FuzzFinding("\(slim.count) summaries for \(full.count) services") }
            for (s, f) in zip(slim, full) {
                let same = s.id == f.id && s.versionIndex == f.version?.index && s.hasSpec == (f.spec != nil)
                    && s.name == f.spec?.name && s.labels == f.spec?.labels && s.replicas == f.spec?.mode?.replicated?.replicas
                    && s.image == f.spec?.taskTemplate?.containerSpec?.image && s.updateState == f.updateStatus?.state
                    && s.updateMessage == f.updateStatus?.message
                guard same else { throw FuzzFinding("summary \(s) disagrees with the decoded service \(f)") }
                guard (try? s.full()) == f else { throw FuzzFinding("service \(f.id): its kept JSON decodes differently") }
            }
        }
        if let full = try? JSONDecoder().decode([Network].self, from: data) {
            guard let slim = try? NetworkSummary.list(json: data) else {
                throw FuzzFinding("the decoder read \(full.count) networks, the scanner failed")
            }
            let expected = full.map { NetworkSummary(id: $0.id, name: $0.name, driver: $0.driver, scope: $0.scope, labels: $0.labels) }
            guard slim == expected else { throw FuzzFinding("network summaries \(slim) disagree with \(expected)") }
        }
        if let image = try? JSONDecoder().decode(ImageInspect.self, from: data) {
            guard let identity = try? ImageIdentity(json: data) else { throw FuzzFinding("the decoder read image \(image.id), the scanner failed") }
            guard identity.id == image.id, identity.repoDigests == (image.repoDigests ?? []) else {
                throw FuzzFinding("image identity \(identity) disagrees with \(image.id) \(image.repoDigests ?? [])")
            }
        }
    }
}
