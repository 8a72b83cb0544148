#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a bearer token may do. Roles are separate: `platform` cannot change policy, `compliance` cannot register clusters.
public enum Role: String, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Everything, including tokens.
    case admin
    /// Clusters, join tokens, inventory, prices, services.
    case platform
    /// Residency policy and the audit log.
    case compliance
    /// Read only.
    case viewer

    public var description: String { rawValue }
}

/// `POST /v1/tokens`
public struct TokenCreateRequest: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["name", "role", "ttlSeconds"]
    public var name: String
    public var role: Role
    public var ttlSeconds: Int?

    public init(name: String, role: Role, ttlSeconds: Int? = nil) {
        self.name = name
        self.role = role
        self.ttlSeconds = ttlSeconds
    }

    public func validate() throws(APIError) {
        try Validate.dnsLabel(name, field: "name")
        if let ttlSeconds, ttlSeconds < 60 { throw .invalid("ttlSeconds", "'ttlSeconds' must be at least 60") }
    }
}

/// An API token; `secret` is present only in the response that created it.
public struct APIToken: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var role: Role
    public var secret: String?
    public var createdAt: Date
    public var expiresAt: Date?

    public init(id: String, name: String, role: Role, secret: String? = nil, createdAt: Date, expiresAt: Date?) {
        self.id = id
        self.name = name
        self.role = role
        self.secret = secret
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// One row of the audit log: who did what to which object, before and after.
public struct AuditEntry: Codable, Sendable, Hashable {
    public var id: Int64
    public var at: Date
    /// `token:NAME`, `cluster:NAME` (a gateway), or `system`.
    public var actor: String
    /// `cluster.register`, `policy.apply`, `cluster.down`, ...
    public var action: String
    public var objectType: String
    public var objectName: String
    public var before: JSONValue?
    public var after: JSONValue?

    public init(id: Int64, at: Date, actor: String, action: String, objectType: String, objectName: String, before: JSONValue?, after: JSONValue?) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.objectType = objectType
        self.objectName = objectName
        self.before = before
        self.after = after
    }
}

/// Filters for `GET /v1/audit`.
public struct AuditFilter: Sendable, Hashable {
    public var actor: String?
    public var action: String?
    public var objectType: String?
    public var objectName: String?
    public var since: Date?
    public var limit: Int
    /// Return entries with id below this (newest first paging).
    public var before: Int64?

    public init(actor: String? = nil, action: String? = nil, objectType: String? = nil, objectName: String? = nil,
                since: Date? = nil, limit: Int = 100, before: Int64? = nil) {
        self.actor = actor
        self.action = action
        self.objectType = objectType
        self.objectName = objectName
        self.since = since
        self.limit = limit
        self.before = before
    }
}
