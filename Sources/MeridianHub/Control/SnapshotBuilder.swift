import Foundation
import MeridianModel
import MeridianStore

/// Gathers the router's input from the store: clusters with health, inventory, prices, services, policy,
/// measured RTTs, revoked serials and the trust bundle.
struct SnapshotBuilder: Sendable {
    let store: MeridianStore
    let staleInventoryAfter: TimeInterval
    /// Probe reports older than this are ignored for RTT.
    var probeMaxAge: TimeInterval = 60

    func build(trustBundlePEM: String?) async throws -> RoutingSnapshot {
        async let clustersPage = store.clusters(ClusterFilter(limit: 1000))
        async let regionList = store.regions()
        async let inventories = store.inventories(staleAfter: staleInventoryAfter)
        async let prices = store.currentPrices()
        async let services = store.services()
        async let residency = store.currentPolicy(kind: "residency", as: ResidencyPolicy.self)
        async let routing = store.currentPolicy(kind: "routing", as: RoutingPreferences.self)
        async let probes = store.probes()
        async let revoked = store.revokedSerials()
        async let now = store.now()

        var clusters = try await clustersPage.items
        var cursor = try await clustersPage.nextCursor
        while let after = cursor {
            let page = try await store.clusters(ClusterFilter(limit: 1000, after: after))
            clusters += page.items
            cursor = page.nextCursor
        }
        let regions = Dictionary(uniqueKeysWithValues: try await regionList.map { ($0.id, $0) })
        let inventory = try await inventories
        let exports = try await services
        var priceByCluster: [String: [String: GPUPrice]] = [:]
        var priceByRegion: [String: [String: GPUPrice]] = [:]
        for price in try await prices {
            if let cluster = price.cluster { priceByCluster[cluster, default: [:]][price.gpuModel] = price }
            if let region = price.region { priceByRegion[region, default: [:]][price.gpuModel] = price }
        }
        var exportsByCluster: [String: [ServiceExport]] = [:]
        for export in exports { exportsByCluster[export.cluster, default: []].append(export) }

        var states: [ClusterState] = []
        for cluster in clusters {
            guard let region = regions[cluster.region] else { continue }
            let report = inventory[cluster.name]
            let pools = report?.gpus ?? []
            let loads = Dictionary(uniqueKeysWithValues: (report?.services ?? []).map { ($0.service, $0) })
            var services: [String: ServiceState] = [:]
            for export in exportsByCluster[cluster.name] ?? [] {
                let load = loads[export.name]
                services[export.name] = ServiceState(queueDepth: load?.queueDepth ?? 0, kvCacheUtilization: load?.kvCacheUtilization ?? 0,
                                                     healthyEndpoints: load?.healthyEndpoints)
            }
            let totalGPUs = pools.reduce(0) { $0 + $1.total }
            let utilization = totalGPUs > 0 ? pools.reduce(0.0) { $0 + $1.utilization * Double($1.total) } / Double(totalGPUs) : nil
            // Price of the largest pool: the GPUs that serve most of the cluster's traffic.
            let spot = cluster.labels["capacity-type"] == "spot"
            var price: Double? = nil
            if let pool = pools.max(by: { ($0.allocatable, $1.model) < ($1.allocatable, $0.model) }) {
                if let p = priceByCluster[cluster.name]?[pool.model] ?? priceByRegion[cluster.region]?[pool.model] {
                    price = spot ? (p.spotPerHour ?? p.onDemandPerHour) : p.onDemandPerHour
                }
            }
            states.append(ClusterState(
                name: cluster.name, region: region, gatewayAddress: cluster.gatewayAddress,
                healthy: cluster.status == .up, gpuUtilization: utilization,
                allocatableGPUs: pools.reduce(0) { $0 + $1.allocatable }, pricePerGPUHour: price, services: services))
        }

        var measured: [String: [String: Double]] = [:]
        let clock = try await now
        for probe in try await probes where probe.reachable && clock.timeIntervalSince(probe.observedAt) < probeMaxAge {
            if let rtt = probe.rttMs { measured[probe.from, default: [:]][probe.to] = rtt }
        }
        return RoutingSnapshot(
            clusters: states.sorted { $0.name < $1.name },
            policy: try await residency?.1 ?? .permissive,
            preferences: try await routing?.1 ?? RoutingPreferences(),
            measuredRTT: measured,
            revokedSerials: try await revoked,
            trustBundlePEM: trustBundlePEM)
    }
}
