/// A route's key in a table: service and data class.
public struct RouteKey: Sendable, Hashable, CustomStringConvertible {
    public var service: String
    public var dataClass: String

    public init(service: String, dataClass: String) {
        self.service = service
        self.dataClass = dataClass
    }

    public var description: String { "\(service)/\(dataClass)" }
}
