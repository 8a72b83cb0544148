#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Wire protocol of an exported service.
public enum ServiceProtocol: String, Codable, Sendable, Hashable, CaseIterable {
    case http
    case grpc
}

/// `PUT /v1/clusters/{cluster}/services/{name}`: a model service the cluster exports to the mesh.
public struct ServiceExportSpec: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["version", "protocol", "port", "defaultDataClass", "labels"]
    public var version: String?
    public var `protocol`: ServiceProtocol?
    public var port: Int
    public var defaultDataClass: String?
    public var labels: [String: String]?

    public init(version: String? = nil, protocol: ServiceProtocol? = nil, port: Int, defaultDataClass: String? = nil, labels: [String: String]? = nil) {
        self.version = version
        self.protocol = `protocol`
        self.port = port
        self.defaultDataClass = defaultDataClass
        self.labels = labels
    }

    public func validate() throws(APIError) {
        guard (1...65535).contains(port) else { throw .invalid("port", "'port' must be 1-65535, got \(port)") }
        if let version, version.isEmpty || version.utf8.count > 64 { throw .invalid("version", "'version' must be 1-64 characters") }
        if let defaultDataClass { try Validate.dnsLabel(defaultDataClass, field: "defaultDataClass") }
        try Validate.labels(labels ?? [:])
    }
}

/// A service exported by a cluster.
public struct ServiceExport: Codable, Sendable, Hashable {
    public var cluster: String
    public var name: String
    public var version: String
    public var `protocol`: ServiceProtocol
    public var port: Int
    public var defaultDataClass: String?
    public var labels: [String: String]
    public var updatedAt: Date

    public init(cluster: String, name: String, version: String, protocol: ServiceProtocol, port: Int,
                defaultDataClass: String?, labels: [String: String], updatedAt: Date) {
        self.cluster = cluster
        self.name = name
        self.version = version
        self.protocol = `protocol`
        self.port = port
        self.defaultDataClass = defaultDataClass
        self.labels = labels
        self.updatedAt = updatedAt
    }
}
