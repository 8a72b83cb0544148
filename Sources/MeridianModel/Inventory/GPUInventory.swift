#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One GPU model's pool in a cluster.
public struct GPUPool: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["model", "total", "allocatable", "inUse", "memoryGiB", "utilization"]
    /// `H100`, `A100`, `L4`, ...
    public var model: String
    public var total: Int
    public var allocatable: Int
    public var inUse: Int
    /// Memory per GPU.
    public var memoryGiB: Double
    /// Mean utilisation over the pool, 0...1.
    public var utilization: Double

    public init(model: String, total: Int, allocatable: Int, inUse: Int, memoryGiB: Double, utilization: Double) {
        self.model = model
        self.total = total
        self.allocatable = allocatable
        self.inUse = inUse
        self.memoryGiB = memoryGiB
        self.utilization = utilization
    }

    public func validate(field: String) throws(APIError) {
        guard !model.isEmpty, model.utf8.count <= 64 else { throw .invalid("\(field).model", "'model' must be 1-64 characters, for example 'H100'") }
        try Validate.nonNegative(total, field: "\(field).total")
        try Validate.nonNegative(allocatable, field: "\(field).allocatable")
        try Validate.nonNegative(inUse, field: "\(field).inUse")
        guard allocatable <= total else { throw .invalid("\(field).allocatable", "'allocatable' (\(allocatable)) exceeds 'total' (\(total))") }
        guard inUse <= total else { throw .invalid("\(field).inUse", "'inUse' (\(inUse)) exceeds 'total' (\(total))") }
        guard memoryGiB.isFinite, memoryGiB >= 0 else { throw .invalid("\(field).memoryGiB", "'memoryGiB' must be zero or more") }
        try Validate.fraction(utilization, field: "\(field).utilization")
    }
}

/// Load of one exported service in a cluster, as the model server reports it.
public struct ServiceLoad: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["service", "queueDepth", "kvCacheUtilization", "healthyEndpoints"]
    public var service: String
    /// Requests waiting (vLLM `vllm:num_requests_waiting`).
    public var queueDepth: Double
    /// KV-cache use, 0...1 (vLLM `vllm:gpu_cache_usage_perc`).
    public var kvCacheUtilization: Double
    /// Local endpoints that pass health checks; nil when unknown.
    public var healthyEndpoints: Int?

    public init(service: String, queueDepth: Double, kvCacheUtilization: Double, healthyEndpoints: Int? = nil) {
        self.service = service
        self.queueDepth = queueDepth
        self.kvCacheUtilization = kvCacheUtilization
        self.healthyEndpoints = healthyEndpoints
    }

    public func validate(field: String) throws(APIError) {
        try Validate.dnsLabel(service, field: "\(field).service")
        guard queueDepth.isFinite, queueDepth >= 0 else { throw .invalid("\(field).queueDepth", "'queueDepth' must be zero or more") }
        try Validate.fraction(kvCacheUtilization, field: "\(field).kvCacheUtilization")
        if let healthyEndpoints { try Validate.nonNegative(healthyEndpoints, field: "\(field).healthyEndpoints") }
    }
}

/// `PUT /v1/clusters/{name}/inventory`, and the inventory part of a heartbeat.
public struct InventoryReport: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["gpus", "services", "observedAt"]
    public var gpus: [GPUPool]
    public var services: [ServiceLoad]
    /// When it was observed; the hub's clock when absent.
    public var observedAt: Date?

    public init(gpus: [GPUPool], services: [ServiceLoad] = [], observedAt: Date? = nil) {
        self.gpus = gpus
        self.services = services
        self.observedAt = observedAt
    }

    enum CodingKeys: String, CodingKey { case gpus, services, observedAt }

    /// `services` may be omitted (a cluster without model servers yet).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        gpus = try container.decode([GPUPool].self, forKey: .gpus)
        services = try container.decodeIfPresent([ServiceLoad].self, forKey: .services) ?? []
        observedAt = try container.decodeIfPresent(Date.self, forKey: .observedAt)
    }

    public func validate() throws(APIError) {
        var seen = Set<String>()
        for (index, pool) in gpus.enumerated() {
            try pool.validate(field: "gpus[\(index)]")
            guard seen.insert(pool.model).inserted else { throw .invalid("gpus[\(index)].model", "GPU model '\(pool.model)' appears twice; report one pool per model") }
        }
        seen.removeAll()
        for (index, load) in services.enumerated() {
            try load.validate(field: "services[\(index)]")
            guard seen.insert(load.service).inserted else { throw .invalid("services[\(index)].service", "service '\(load.service)' appears twice") }
        }
    }
}

/// A cluster's inventory as the hub holds it.
public struct Inventory: Codable, Sendable, Hashable {
    public var cluster: String
    public var gpus: [GPUPool]
    public var services: [ServiceLoad]
    public var observedAt: Date?
    /// True when older than the hub's staleness limit (or never reported).
    public var stale: Bool

    public init(cluster: String, gpus: [GPUPool], services: [ServiceLoad], observedAt: Date?, stale: Bool) {
        self.cluster = cluster
        self.gpus = gpus
        self.services = services
        self.observedAt = observedAt
        self.stale = stale
    }
}
