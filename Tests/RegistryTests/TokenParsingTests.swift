import Foundation
import Testing

@testable import Registry

/// The parts of bearer auth and error handling that read what a registry sent, without a server.
@Suite struct TokenParsingTests {
    @Test func tokenURLCarriesServiceAndEveryScopeOnce() throws {
        let challenge = try #require(AuthChallenge.parse(
            #"Bearer realm="https://auth.docker.io/token?client=berth",service="registry.docker.io",scope="repository:library/busybox:pull""#))
        let (realm, url) = try #require(challenge.tokenURL(scopes: ["repository:library/busybox:pull", "repository:acme/web:pull,push"]))
        #expect(realm == "https://auth.docker.io/token?client=berth")
        #expect(url.host == "auth.docker.io")
        let items = url.queryItems ?? []
        #expect(items.filter { $0.name == "client" }.map(\.value) == ["berth"])
        #expect(items.filter { $0.name == "service" }.map(\.value) == ["registry.docker.io"])
        // The challenge's scope and the requested one are the same: asked for once.
        #expect(items.filter { $0.name == "scope" }.compactMap(\.value)
            == ["repository:acme/web:pull,push", "repository:library/busybox:pull"])
    }

    @Test func tokenURLRefusesRealmsThatAreNotHTTP() throws {
        for header in [#"Bearer service="x""#, #"Bearer realm="ftp://h/token""#, #"Bearer realm="/token""#, #"Bearer realm="""#] {
            let challenge = try #require(AuthChallenge.parse(header))
            #expect(challenge.tokenURL(scopes: []) == nil, "\(header)")
        }
    }

    @Test func tokenURLEncodesAPlusSoItIsNotASpace() throws {
        let challenge = try #require(AuthChallenge.parse(#"Bearer realm="http://127.0.0.1:5001/t",scope="a+b""#))
        let url = try #require(challenge.tokenURL(scopes: [])?.url.string)
        #expect(url.contains("scope=a%2Bb"))
    }

    @Test func bearerTokenBodies() throws {
        let docker = try #require(BearerToken.parse(Data(#"{"token":"t1","access_token":"t2","expires_in":300}"#.utf8)))
        #expect(docker == BearerToken(token: "t1", expiresIn: 300))
        #expect(docker.lifetime == 300)
        let oauth = try #require(BearerToken.parse(Data(#"{"access_token":"t2"}"#.utf8)))
        #expect(oauth.token == "t2")
        #expect(oauth.lifetime == 60, "Docker's default when expires_in is missing")
        #expect(BearerToken.parse(Data(#"{"token":"t","expires_in":-5}"#.utf8))?.lifetime == 10)
        #expect(BearerToken.parse(Data(#"{"token":""}"#.utf8)) == nil)
        #expect(BearerToken.parse(Data(#"{"expires_in":300}"#.utf8)) == nil)
        #expect(BearerToken.parse(Data("<html>".utf8)) == nil)
        // Renewed 5 s early, and a huge lifetime does not overflow.
        let now = ContinuousClock.now
        #expect(docker.expiry(from: now) == now + .seconds(295))
        #expect(BearerToken(token: "t", expiresIn: Int.max).expiry(from: now) > now)
    }

    @Test func errorBodiesAndRetryAfter() {
        let body = Data(#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"},{"message":"no code"},{"code":42}]}"#.utf8)
        #expect(RegistryError.parseDetails(body) == [
            RegistryErrorDetail(code: "DENIED", message: "requested access to the resource is denied"),
            RegistryErrorDetail(code: "UNKNOWN", message: "no code"), RegistryErrorDetail(code: "UNKNOWN", message: ""),
        ])
        // libFuzzer finding: an empty code printed as "(registry says: )".
        let empty = RegistryError.from(status: 429, headers: [], body: Data(#"{"errors":[{"code":""}]}"#.utf8), method: "GET",
            url: "http://127.0.0.1:5000/v2/", doing: "checking")
        #expect(empty.codes == ["UNKNOWN"])
        #expect(empty.description.contains("(registry says: UNKNOWN)"))
        #expect(RegistryError.parseDetails(Data("<html>503</html>".utf8)).isEmpty)
        #expect(RegistryError.parseDetails(Data(#"{"errors":{"code":"X"}}"#.utf8)).isEmpty)

        let e = RegistryError.from(status: 404, headers: [("Retry-After", " 7 ")], body: body, method: "PUT",
            url: "http://u:pw-secret@127.0.0.1:5000/v2/a/manifests/x", doing: "pushing a")
        #expect(e.kind == .denied)
        #expect(e.retryAfter == 7)
        #expect(e.description.contains("PUT http://***@127.0.0.1:5000/v2/a/manifests/x"))
        #expect(!e.description.contains("pw-secret"))
        #expect(e.description.contains("registry says: DENIED: requested access"))
    }

    @Test func retryAfterIsClampedEvenWhenHostile() {
        #expect(RegistryClient.delay(retryAfter: 2.5) == .milliseconds(2500))
        #expect(RegistryClient.delay(retryAfter: -3) == .zero)
        #expect(RegistryClient.delay(retryAfter: 1e300) == .seconds(60))
        #expect(RegistryClient.delay(retryAfter: .infinity) == .seconds(60))
        #expect(RegistryClient.delay(retryAfter: .nan) == .zero)
    }
}
