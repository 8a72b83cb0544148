import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One destination in a priority level, with its share of the level's traffic.
public struct WeightedDestination: Codable, Sendable, Hashable {
    /// Cluster name; equal to the table's `source` for the local cluster.
    public var cluster: String
    /// Share of the level, in (0, 1]; a level's weights sum to one.
    public var weight: Double

    public init(cluster: String, weight: Double) {
        self.cluster = cluster
        self.weight = weight
    }
}

/// A priority level: traffic goes to P0 while any of its destinations is available, then P1, ...
public struct PriorityLevel: Codable, Sendable, Hashable {
    public var destinations: [WeightedDestination]
    public init(destinations: [WeightedDestination]) { self.destinations = destinations }
}

/// Why an entry refuses every request.
public struct RouteRefusal: Codable, Sendable, Hashable {
    /// HTTP status the source gateway answers with: 451 for residency, 503 for no healthy capacity.
    public var status: Int
    public var reason: String
    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }
}

/// The route for (service, data class) from one source cluster.
public struct RouteEntry: Codable, Sendable, Hashable {
    public var service: String
    public var dataClass: String
    /// Empty when `refusal` is set.
    public var levels: [PriorityLevel]
    public var refusal: RouteRefusal?
    /// Request timeout for this service at the gateway, seconds.
    public var timeoutSeconds: Double

    public init(service: String, dataClass: String, levels: [PriorityLevel], refusal: RouteRefusal? = nil, timeoutSeconds: Double = 300) {
        self.service = service
        self.dataClass = dataClass
        self.levels = levels
        self.refusal = refusal
        self.timeoutSeconds = timeoutSeconds
    }

    /// Every cluster the entry may send to, over all levels.
    public var allDestinations: [String] { levels.flatMap { $0.destinations.map(\.cluster) } }
}

/// A peer gateway the table may send to.
public struct PeerGateway: Codable, Sendable, Hashable {
    public var cluster: String
    /// `HOST:PORT` of its tunnel listener.
    public var address: String
    public var jurisdiction: Jurisdiction

    public init(cluster: String, address: String, jurisdiction: Jurisdiction) {
        self.cluster = cluster
        self.address = address
        self.jurisdiction = jurisdiction
    }
}

/// The routing table of one source cluster: versioned, content-hashed, pushed by the hub, applied by its gateway.
public struct RoutingTable: Codable, Sendable, Hashable {
    /// The cluster whose gateway applies this table.
    public var source: String
    /// Monotonic per source cluster; assigned by the hub (0 for a table that was never published).
    public var version: Int64
    /// SHA-256 (hex) of the content (everything but `version` and `hash`): same inputs, same hash.
    public var hash: String
    public var local: PeerGateway
    /// Every other cluster the entries name, sorted by name.
    public var peers: [PeerGateway]
    /// Sorted by (service, dataClass).
    public var entries: [RouteEntry]
    /// Enforced again at the destination: 403 for a caller a service does not allow, 451 for a class that may not be processed here.
    public var policy: ResidencyPolicy
    public var revokedSerials: [String]
    public var trustBundlePEM: String?

    public init(source: String, version: Int64 = 0, local: PeerGateway, peers: [PeerGateway], entries: [RouteEntry],
                policy: ResidencyPolicy, revokedSerials: [String] = [], trustBundlePEM: String? = nil) {
        self.source = source
        self.version = version
        self.hash = ""
        self.local = local
        self.peers = peers
        self.entries = entries
        self.policy = policy
        self.revokedSerials = revokedSerials
        self.trustBundlePEM = trustBundlePEM
        self.hash = contentHash()
    }

    /// Looks up an entry.
    public func entry(service: String, dataClass: String) -> RouteEntry? {
        entries.first { $0.service == service && $0.dataClass == dataClass }
    }

    /// Canonical JSON of the content (sorted keys), hashed with SHA-256.
    public func contentHash() -> String {
        var copy = self
        copy.version = 0
        copy.hash = ""
        let data = (try? Self.canonicalEncoder.encode(copy)) ?? Data()
        return SHA256.hash(data: data).hexString
    }

    /// Canonical bytes of the whole table (sorted keys): what the hub serves and gateways store on disk.
    public func canonicalJSON() throws -> Data { try Self.canonicalEncoder.encode(self) }

    public static var canonicalEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
