/// The clusters (or endpoints) a request has tried, in order. The first is kept inline: nearly every request tries one
/// destination, and an array's first append allocates its storage (about 300 instructions with its release, on each
/// request in each gateway).
public struct TriedNames: Sendable, Equatable, ExpressibleByArrayLiteral {
    private var first: String?
    private var rest: [String] = []

    public init() {}

    public init(arrayLiteral names: String...) {
        for name in names { append(name) }
    }

    public var isEmpty: Bool { first == nil }

    public mutating func append(_ name: String) {
        if first == nil { first = name } else { rest.append(name) }
    }

    public func contains(_ name: String) -> Bool {
        guard let first else { return false }
        return first == name || rest.contains(name)
    }
}
