/// What a service's traffic optimises for.
public enum RoutingObjective: String, Codable, Sendable, Hashable, CaseIterable {
    case latency
    case cost
    case balanced
}

/// Limits beyond which a cluster takes no new traffic for a service.
public struct SaturationLimits: Codable, Sendable, Hashable {
    public var queueDepth: Double?
    public var kvCacheUtilization: Double?
    public var gpuUtilization: Double?

    public init(queueDepth: Double? = nil, kvCacheUtilization: Double? = nil, gpuUtilization: Double? = nil) {
        self.queueDepth = queueDepth
        self.kvCacheUtilization = kvCacheUtilization
        self.gpuUtilization = gpuUtilization
    }

    /// Defaults: 64 queued requests, 95% KV cache, 98% GPU.
    public static let `default` = SaturationLimits(queueDepth: 64, kvCacheUtilization: 0.95, gpuUtilization: 0.98)
}

/// Routing preferences of one service.
public struct RoutingPreference: Codable, Sendable, Hashable {
    public var objective: RoutingObjective
    /// Candidates whose RTT from the source exceeds this are demoted to a later level.
    public var latencySLOMs: Double?
    /// Candidates whose GPU-hour price exceeds this are demoted to a later level.
    public var priceCeilingPerGPUHour: Double?
    public var saturation: SaturationLimits
    /// Request timeout at the gateway, seconds (inference: minutes). Default 300.
    public var timeoutSeconds: Double?

    public init(objective: RoutingObjective = .balanced, latencySLOMs: Double? = nil, priceCeilingPerGPUHour: Double? = nil,
                saturation: SaturationLimits = .default, timeoutSeconds: Double? = nil) {
        self.objective = objective
        self.latencySLOMs = latencySLOMs
        self.priceCeilingPerGPUHour = priceCeilingPerGPUHour
        self.saturation = saturation
        self.timeoutSeconds = timeoutSeconds
    }

    public static let `default` = RoutingPreference()
}

/// Preferences for every service; services not named use `defaults`.
public struct RoutingPreferences: Codable, Sendable, Hashable {
    public var services: [String: RoutingPreference]
    public var defaults: RoutingPreference

    public init(services: [String: RoutingPreference] = [:], defaults: RoutingPreference = .default) {
        self.services = services
        self.defaults = defaults
    }

    public func preference(for service: String) -> RoutingPreference { services[service] ?? defaults }
}
