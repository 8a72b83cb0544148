import MeridianModel

/// Reads a `kind: RoutingPreferences` document (already checked for apiVersion and kind) into
/// ``RoutingPreferences``.
///
/// `defaults` starts from ``RoutingPreference/default``; each service starts from the document's `defaults`
/// and overrides only the fields it names (`saturation` field by field). An explicit `null` clears an
/// optional limit (no latency SLO, no price ceiling, no limit on that saturation signal). `metadata` is
/// optional here (``RoutingPreferences`` carries no name), but checked when present.
struct RoutingPreferencesParser {
    let top: PolicyMapping

    static let topKeys = ["apiVersion", "kind", "metadata", "defaults", "services"]
    static let preferenceKeys = ["objective", "latencySLOMs", "priceCeilingPerGPUHour", "saturation", "timeoutSeconds"]
    static let saturationKeys = ["queueDepth", "kvCacheUtilization", "gpuUtilization"]

    func parse() throws(PolicyError) -> RoutingPreferences {
        try top.checkKeys(Self.topKeys)
        if top.value("metadata") != nil { _ = try PolicyDocument.metadataName(top) }
        var defaults = RoutingPreference.default
        if let node = top.value("defaults") {
            defaults = try preference(node, base: defaults)
        }
        var services: [String: RoutingPreference] = [:]
        if let node = top.value("services") {
            for entry in try node.mapping(nullIsEmpty: true, expected: "a mapping of service names to preferences").entries {
                try entry.keyNode.dnsLabel(entry.key, what: "service name")
                services[entry.key] = try preference(entry.value, base: defaults)
            }
        }
        return RoutingPreferences(services: services, defaults: defaults)
    }

    func preference(_ node: PolicyNode, base: RoutingPreference) throws(PolicyError) -> RoutingPreference {
        let body = try node.mapping(nullIsEmpty: true, expected: "routing preferences: a mapping with objective, latencySLOMs, ...")
        try body.checkKeys(Self.preferenceKeys)
        var result = base
        if let node = body.value("objective") {
            let text = try node.string(expected: "one of latency, cost, balanced")
            guard let objective = RoutingObjective(rawValue: text) else {
                throw node.error(.invalidValue, "unknown objective '\(text)'; use one of: \(RoutingObjective.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            result.objective = objective
        }
        if let node = body.value("latencySLOMs") {
            result.latencySLOMs = node.isNull ? nil : try node.number("more than 0 milliseconds") { $0 > 0 }
        }
        if let node = body.value("priceCeilingPerGPUHour") {
            result.priceCeilingPerGPUHour = node.isNull ? nil : try node.number("zero or more (a price per GPU-hour)") { $0 >= 0 }
        }
        if let node = body.value("timeoutSeconds") {
            result.timeoutSeconds = node.isNull ? nil : try node.number("more than 0 seconds") { $0 > 0 }
        }
        if let node = body.value("saturation") {
            let saturation = try node.mapping(nullIsEmpty: true, expected: "saturation limits: a mapping with queueDepth, kvCacheUtilization, gpuUtilization")
            try saturation.checkKeys(Self.saturationKeys)
            if let node = saturation.value("queueDepth") {
                result.saturation.queueDepth = node.isNull ? nil : try node.number("more than 0 (queued requests)") { $0 > 0 }
            }
            if let node = saturation.value("kvCacheUtilization") {
                result.saturation.kvCacheUtilization = node.isNull ? nil : try node.number("a fraction in (0, 1], for example 0.9") { $0 > 0 && $0 <= 1 }
            }
            if let node = saturation.value("gpuUtilization") {
                result.saturation.gpuUtilization = node.isNull ? nil : try node.number("a fraction in (0, 1], for example 0.95") { $0 > 0 && $0 <= 1 }
            }
        }
        return result
    }
}
