import Curl
import FoundationEssentials
import Glibc
import Logging

/// Per registry: the challenge it answered with, and bearer tokens per scope set until they
/// expire. Anonymous until a registry asks for more.
actor Authenticator {
    let http: HTTPClient
    let credentials: CredentialStore
    let insecure: Bool
    let logger: Logger

    private var challenges: [String: AuthChallenge] = [:]
    private var tokens: [String: (token: String, expires: ContinuousClock.Instant)] = [:]
    private var pending: [String: Task<String, any Error>] = [:]

    init(http: HTTPClient, credentials: CredentialStore, insecure: Bool, logger: Logger) {
        self.http = http
        self.credentials = credentials
        self.insecure = insecure
        self.logger = logger
    }

    func hasChallenge(for registry: String) -> Bool { challenges[registry] != nil }

    /// Records a challenge from a 401; a bearer challenge drops cached tokens for `scopes`
    /// (the registry no longer accepts them).
    func learn(_ challenge: AuthChallenge, registry: String, scopes: [String]) {
        challenges[registry] = challenge
        tokens[key(registry, scopes)] = nil
    }

    /// The `Authorization` value for a request needing `scopes`, or nil for anonymous.
    func authorization(registry: String, scopes: [String]) async throws -> String? {
        guard let challenge = challenges[registry] else { return nil }
        switch challenge.scheme {
        case .basic:
            return credentials.credentials(for: registry)?.basicAuthorization
        case .bearer:
            let k = key(registry, scopes)
            if let t = tokens[k], t.expires > .now { return "Bearer \(t.token)" }
            if let task = pending[k] { return "Bearer \(try await task.value)" }
            let task = Task { try await fetchToken(challenge: challenge, registry: registry, scopes: scopes) }
            pending[k] = task
            defer { pending[k] = nil }
            return "Bearer \(try await task.value)"
        }
    }

    private func key(_ registry: String, _ scopes: [String]) -> String {
        registry + " " + Set(scopes).sorted().joined(separator: " ")
    }

    private func fetchToken(challenge: AuthChallenge, registry: String, scopes: [String]) async throws -> String {
        guard let (realm, components) = challenge.tokenURL(scopes: scopes), let scheme = components.scheme
        else {
            throw RegistryError(.invalidResponse, "registry \(registry) sent a bearer challenge without a usable realm",
                hint: "Check the registry's auth configuration (token realm)")
        }
        let allScopes = challenge.scopes(adding: scopes)
        guard let url = components.string else {
            throw RegistryError(.invalidResponse, "cannot build the token URL from realm \(realm)", hint: "")
        }
        var headers = HTTPHeaders()
        let creds = credentials.credentials(for: registry)
        if let creds {
            // Never send a password in clear text off this machine.
            let host = components.host ?? ""
            if scheme == "https" || insecure || ImageReference.isLoopback(host: host) {
                headers.set("Authorization", creds.basicAuthorization)
            } else {
                throw RegistryError(.insecureRefused, "the token service \(realm) is plain http; refusing to send credentials",
                    hint: "Use an https token realm, or set insecure for a trusted network")
            }
        }
        let request = HTTPRequest(method: .get, url: url, headers: headers, timeout: .seconds(60))
        logger.debug("fetching registry token", metadata: ["registry": "\(registry)", "scopes": "\(allScopes.sorted())"])
        let response: HTTPResponse
        do {
            response = try await http.send(request, maxBodySize: 1 << 20)
        } catch let e as CurlError {
            throw RegistryError.transport(e)
        }
        guard response.isSuccess else {
            var e = RegistryError.from(response: response, request: request, doing: "getting a token for \(registry)")
            if response.status == 401 || response.status == 403 {
                e.kind = .unauthorized
                e.hint = creds == nil
                    ? "The registry needs credentials: pass --username/--password, set BERTH_REGISTRY_USER and "
                        + "BERTH_REGISTRY_PASSWORD, or run `docker login \(registry)`"
                    : "The token service refused the credentials for \(creds?.username ?? ""); check the user name and password"
            }
            throw e
        }
        guard let t = BearerToken.parse(response.body) else {
            throw RegistryError(.invalidResponse, "the token service \(realm) answered without a token",
                request: request.redactedTarget, hint: "Check the registry's token service")
        }
        tokens[key(registry, scopes)] = (t.token, t.expiry(from: .now))
        return t.token
    }

}

extension AuthChallenge {
    /// The token service URL for a bearer challenge: its realm (http or https only) with the
    /// challenge's service and the scopes as query items. Nil without a usable realm.
    package func tokenURL(scopes: [String]) -> (realm: String, url: URLComponents)? {
        guard let realm = parameters["realm"], var components = URLComponents(string: realm),
            let scheme = components.scheme, scheme == "https" || scheme == "http"
        else { return nil }
        var items = components.queryItems ?? []
        if let service = parameters["service"] { items.append(URLQueryItem(name: "service", value: service)) }
        for s in self.scopes(adding: scopes) { items.append(URLQueryItem(name: "scope", value: s)) }
        components.queryItems = items
        // A literal "+" in a query means a space to many servers; scopes never contain one, but
        // encode it to be safe.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacing("+", with: "%2B")
        return (realm, components)
    }

    /// The scopes asked for plus those the challenge names, sorted, without repeats.
    package func scopes(adding requested: [String]) -> [String] {
        var all = Set(requested)
        if let s = parameters["scope"] { all.formUnion(s.split(separator: " ").map(String.init)) }
        return all.sorted()
    }
}

/// A token service's answer: `{"token": ..., "expires_in": ...}` (Docker) or `access_token`
/// (OAuth2). Both keys may be present; `token` wins.
package struct BearerToken: Sendable, Hashable {
    package var token: String
    package var expiresIn: Int?

    /// Nil when the body is not such JSON or names no non-empty token.
    package static func parse(_ body: Data) -> BearerToken? {
        struct Response: Decodable {
            var token: String?
            var access_token: String?
            var expires_in: Int?
        }
        guard let r = try? JSONDecoder().decode(Response.self, from: body), let token = r.token ?? r.access_token,
            !token.isEmpty
        else { return nil }
        return BearerToken(token: token, expiresIn: r.expires_in)
    }

    /// Seconds the token is used for: Docker's default lifetime is 60 s, and never under 10 s.
    package var lifetime: Int { max(10, expiresIn ?? 60) }

    /// When to stop using it: a little early, so a token never expires in flight.
    package func expiry(from now: ContinuousClock.Instant) -> ContinuousClock.Instant {
        now + .seconds(lifetime - 5)
    }
}
