#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Whether the mesh currently routes to a cluster.
public enum ClusterStatus: String, Codable, Sendable, Hashable, CaseIterable {
    /// Registered; its gateway has not reported yet.
    case pending
    /// Heartbeats arrive and peers reach it.
    case up
    /// Missed heartbeats, or most peers cannot reach it.
    case down
}

/// `POST /v1/clusters`: register a cluster.
public struct ClusterRegistration: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["name", "region", "gatewayAddress", "labels"]

    /// A DNS label, unique in the mesh.
    public var name: String
    /// A region id from the catalog, for example `aws-eu-central-1`.
    public var region: String
    /// `HOST:PORT` of the cluster's east-west gateway tunnel listener.
    public var gatewayAddress: String
    public var labels: [String: String]?

    public init(name: String, region: String, gatewayAddress: String, labels: [String: String]? = nil) {
        self.name = name
        self.region = region
        self.gatewayAddress = gatewayAddress
        self.labels = labels
    }

    /// Checks every field except the region's existence, which needs the catalog.
    public func validate() throws(APIError) {
        try Validate.dnsLabel(name, field: "name")
        guard !region.isEmpty else { throw .missing("region") }
        try Validate.hostPort(gatewayAddress, field: "gatewayAddress")
        try Validate.labels(labels ?? [:])
    }
}

/// `PATCH /v1/clusters/{name}`: replace labels and/or the gateway address.
public struct ClusterUpdate: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["labels", "gatewayAddress"]
    public var labels: [String: String]?
    public var gatewayAddress: String?

    public init(labels: [String: String]? = nil, gatewayAddress: String? = nil) {
        self.labels = labels
        self.gatewayAddress = gatewayAddress
    }

    public func validate() throws(APIError) {
        if let labels { try Validate.labels(labels) }
        if let gatewayAddress { try Validate.hostPort(gatewayAddress, field: "gatewayAddress") }
        if labels == nil && gatewayAddress == nil {
            throw .invalid("labels", "nothing to update: give 'labels' or 'gatewayAddress'")
        }
    }
}

/// A registered cluster.
public struct Cluster: Codable, Sendable, Hashable {
    public var name: String
    public var region: String
    public var provider: String
    public var jurisdiction: Jurisdiction
    public var gatewayAddress: String
    public var labels: [String: String]
    public var status: ClusterStatus
    public var createdAt: Date
    public var updatedAt: Date
    public var lastHeartbeatAt: Date?

    public init(name: String, region: String, provider: String, jurisdiction: Jurisdiction, gatewayAddress: String,
                labels: [String: String], status: ClusterStatus, createdAt: Date, updatedAt: Date, lastHeartbeatAt: Date? = nil) {
        self.name = name
        self.region = region
        self.provider = provider
        self.jurisdiction = jurisdiction
        self.gatewayAddress = gatewayAddress
        self.labels = labels
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastHeartbeatAt = lastHeartbeatAt
    }
}

/// Filters for `GET /v1/clusters`.
public struct ClusterFilter: Sendable, Hashable {
    public var region: String?
    public var provider: String?
    /// A country code or bloc the cluster's region falls under.
    public var jurisdiction: String?
    /// `key=value`
    public var label: (key: String, value: String)?
    public var status: ClusterStatus?
    public var limit: Int
    /// Name after which the page starts.
    public var after: String?

    public init(region: String? = nil, provider: String? = nil, jurisdiction: String? = nil,
                label: (key: String, value: String)? = nil, status: ClusterStatus? = nil, limit: Int = 100, after: String? = nil) {
        self.region = region
        self.provider = provider
        self.jurisdiction = jurisdiction
        self.label = label
        self.status = status
        self.limit = limit
        self.after = after
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.region == rhs.region && lhs.provider == rhs.provider && lhs.jurisdiction == rhs.jurisdiction
            && lhs.label?.key == rhs.label?.key && lhs.label?.value == rhs.label?.value
            && lhs.status == rhs.status && lhs.limit == rhs.limit && lhs.after == rhs.after
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(region); hasher.combine(provider); hasher.combine(jurisdiction)
        hasher.combine(label?.key); hasher.combine(label?.value); hasher.combine(status)
        hasher.combine(limit); hasher.combine(after)
    }
}

/// `POST /v1/clusters/{name}/join-tokens`
public struct JoinTokenRequest: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["ttlSeconds"]
    /// Lifetime; default one hour, at most seven days.
    public var ttlSeconds: Int?

    public init(ttlSeconds: Int? = nil) { self.ttlSeconds = ttlSeconds }

    public func validate() throws(APIError) {
        if let ttlSeconds, !(60...604_800).contains(ttlSeconds) {
            throw .invalid("ttlSeconds", "'ttlSeconds' must be between 60 and 604800 (seven days), got \(ttlSeconds)")
        }
    }
}

/// A one-time token that lets a gateway join as the named cluster. The secret is shown once.
public struct JoinToken: Codable, Sendable, Hashable {
    public var id: String
    public var cluster: String
    public var token: String?
    public var expiresAt: Date
    public var usedAt: Date?

    public init(id: String, cluster: String, token: String?, expiresAt: Date, usedAt: Date? = nil) {
        self.id = id
        self.cluster = cluster
        self.token = token
        self.expiresAt = expiresAt
        self.usedAt = usedAt
    }
}
