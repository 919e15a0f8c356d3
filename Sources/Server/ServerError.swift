/// Why a sync, a request or the server itself failed; the description says what and what to do.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
