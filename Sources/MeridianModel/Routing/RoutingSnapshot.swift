/// Everything the router needs, gathered by the hub from the store: the router's only input.
public struct RoutingSnapshot: Sendable, Hashable {
    public var clusters: [ClusterState]
    public var policy: ResidencyPolicy
    public var preferences: RoutingPreferences
    /// Measured round-trip times in milliseconds, `from -> to -> ms`, from gateway probes.
    public var measuredRTT: [String: [String: Double]]
    /// Serials of revoked gateway certificates, carried in every table.
    public var revokedSerials: [String]
    /// PEM trust bundle (every root currently trusted), carried in every table.
    public var trustBundlePEM: String?

    public init(clusters: [ClusterState], policy: ResidencyPolicy, preferences: RoutingPreferences = RoutingPreferences(),
                measuredRTT: [String: [String: Double]] = [:], revokedSerials: [String] = [], trustBundlePEM: String? = nil) {
        self.clusters = clusters
        self.policy = policy
        self.preferences = preferences
        self.measuredRTT = measuredRTT
        self.revokedSerials = revokedSerials
        self.trustBundlePEM = trustBundlePEM
    }
}

/// One cluster as the router sees it.
public struct ClusterState: Sendable, Hashable {
    public var name: String
    public var region: Region
    public var gatewayAddress: String
    /// False when the failure detector holds it down.
    public var healthy: Bool
    /// Mean GPU utilisation, 0...1; nil when unknown.
    public var gpuUtilization: Double?
    /// Allocatable GPUs in the cluster.
    public var allocatableGPUs: Int
    /// Effective price of one GPU-hour (spot when the cluster runs on spot, else on-demand); nil when unknown.
    public var pricePerGPUHour: Double?
    /// Services the cluster exports, by name.
    public var services: [String: ServiceState]

    public init(name: String, region: Region, gatewayAddress: String, healthy: Bool, gpuUtilization: Double? = nil,
                allocatableGPUs: Int = 0, pricePerGPUHour: Double? = nil, services: [String: ServiceState]) {
        self.name = name
        self.region = region
        self.gatewayAddress = gatewayAddress
        self.healthy = healthy
        self.gpuUtilization = gpuUtilization
        self.allocatableGPUs = allocatableGPUs
        self.pricePerGPUHour = pricePerGPUHour
        self.services = services
    }
}

/// One exported service's state in one cluster.
public struct ServiceState: Sendable, Hashable {
    public var queueDepth: Double
    public var kvCacheUtilization: Double
    /// nil when unknown; zero means no healthy local endpoint.
    public var healthyEndpoints: Int?

    public init(queueDepth: Double = 0, kvCacheUtilization: Double = 0, healthyEndpoints: Int? = nil) {
        self.queueDepth = queueDepth
        self.kvCacheUtilization = kvCacheUtilization
        self.healthyEndpoints = healthyEndpoints
    }
}
