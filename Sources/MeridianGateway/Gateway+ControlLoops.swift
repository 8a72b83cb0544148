#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import MeridianClient
import MeridianModel
import MeridianPKI
import NIOCore
import Prometheus

extension Gateway {
    // MARK: Watch

    /// Blocking queries for the next table version; each new table is applied on every loop, written to disk and
    /// acknowledged. Hub errors back off (1 s doubling to 30 s) and never touch the data plane.
    func watchLoop(_ runtime: Runtime, hub: HubSession) async {
        var index = appliedTable?.version ?? 0
        var failures = 0
        while !Task.isCancelled {
            do {
                let client = try await hub.client(for: runtime.identity)
                if let table = try await client.watchTable(index: index, wait: configuration.watchWait) {
                    guard table.source == configuration.cluster else {
                        logger.error("the hub sent the table of another cluster; ignored", metadata: ["meridian.route.source": "\(table.source)"])
                        try await Task.sleep(for: .seconds(5))
                        continue
                    }
                    await apply(table, runtime: runtime, persist: true)
                    index = table.version
                    do {
                        try await client.acknowledge(version: table.version, hash: table.hash)
                    } catch {
                        logger.warning("cannot acknowledge the table", metadata: ["meridian.route.version": "\(table.version)", "meridian.error": "\(error)"])
                    }
                }
                if failures > 0 { logger.info("hub reachable again", metadata: ["meridian.hub.failures": "\(failures)"]) }
                failures = 0
                metrics.hubUp.set(to: 1.0)
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                failures += 1
                metrics.hubUp.set(to: 0.0)
                metrics.hubErrors("watch").increment()
                if failures == 1 || failures % 10 == 0 {
                    logger.warning("cannot watch the routing table; routing on the last good table",
                                   metadata: ["meridian.error": "\(error)", "meridian.route.version": "\(index)", "meridian.hub.failures": "\(failures)"])
                }
                let delay = Duration.seconds(min(30, 1 << min(failures - 1, 5)))
                try? await Task.sleep(for: delay)
            }
        }
    }

    // MARK: Heartbeats

    /// Every `heartbeatInterval`: inventory (DCGM and vLLM), endpoint health, probes, table version, certificate
    /// expiry.
    func heartbeatLoop(_ runtime: Runtime, hub: HubSession) async {
        var failures = 0
        while !Task.isCancelled {
            let heartbeat = await makeHeartbeat(runtime)
            do {
                let client = try await hub.client(for: runtime.identity)
                try await client.heartbeat(heartbeat)
                failures = 0
                metrics.hubUp.set(to: 1.0)
            } catch {
                if Task.isCancelled { return }
                failures += 1
                metrics.hubErrors("heartbeat").increment()
                if failures == 1 || failures % 30 == 0 {
                    logger.warning("cannot send a heartbeat", metadata: ["meridian.error": "\(error)", "meridian.hub.failures": "\(failures)"])
                }
            }
            try? await Task.sleep(for: configuration.heartbeatInterval)
        }
    }

    func makeHeartbeat(_ runtime: Runtime) async -> Heartbeat {
        let table = appliedTable
        var gpus: [GPUPool] = []
        if let url = configuration.dcgmMetricsURL {
            do {
                gpus = InventoryScraper.gpuPools(from: PrometheusText.parse(try await MetricsFetcher.get(url, group: runtime.group)))
            } catch {
                logger.debug("cannot scrape DCGM metrics", metadata: ["meridian.url": "\(url)", "meridian.error": "\(error)"])
            }
        }
        var services: [ServiceLoad] = []
        for service in runtime.context.localEndpoints.keys.sorted() {
            let endpoints = runtime.context.localEndpoints[service] ?? []
            let healthy = endpoints.filter { !runtime.context.health.isEjected(DestinationHealth.localKey($0)) }.count
            var samples: [PrometheusText.Sample] = []
            if let url = configuration.vllmMetricsURLs[service] {
                do {
                    samples = PrometheusText.parse(try await MetricsFetcher.get(url, group: runtime.group))
                } catch {
                    logger.debug("cannot scrape vLLM metrics", metadata: ["meridian.url": "\(url)", "meridian.error": "\(error)"])
                }
            }
            services.append(InventoryScraper.serviceLoad(service: service, from: samples, healthyEndpoints: healthy))
        }
        let probes = (table?.peers ?? []).filter { $0.cluster != configuration.cluster }.map { peer -> PeerProbe in
            let probe = runtime.context.health.probe(peer.cluster)
            let reachable = probe.reachable ?? runtime.context.isPeerConnected(peer.cluster)
            return PeerProbe(peer: peer.cluster, reachable: reachable,
                             rttMs: reachable ? probe.rtt.map { Double($0.nanoseconds) / 1e6 } : nil)
        }
        return Heartbeat(cluster: configuration.cluster, sentAt: Date(), appliedTableVersion: table?.version, appliedTableHash: table?.hash,
                         inventory: InventoryReport(gpus: gpus, services: services, observedAt: Date()), probes: probes,
                         certificateNotAfter: runtime.identity.notAfter)
    }

    // MARK: Probes

    /// Every `probeInterval`, an HTTP/2 PING to every peer on every event loop's connection: the peer answered when
    /// one did (RTT: the fastest). Three failed rounds in a row eject it; a success brings it back (slowly).
    func probeLoop(_ runtime: Runtime) async {
        let timeout = configuration.resilience.probeTimeout.timeAmount
        while !Task.isCancelled {
            let peers = (appliedTable?.peers ?? []).map(\.cluster).filter { $0 != configuration.cluster }
            await withTaskGroup(of: Void.self) { group in
                for peer in peers {
                    group.addTask {
                        var best: TimeAmount? = nil
                        for worker in runtime.workers.workers {
                            let rtt = try? await worker.eventLoop.flatSubmit { worker.probe(peer, timeout: timeout) }.get()
                            if let rtt = rtt ?? nil { best = min(best ?? rtt, rtt) }
                        }
                        runtime.context.health.recordProbe(peer, rtt: best)
                        if let best { self.metrics.peerRTT(peer).set(to: Double(best.nanoseconds) / 1e9) }
                        self.metrics.peerEjected(peer).set(to: runtime.context.health.isEjected(peer) ? 1.0 : 0.0)
                    }
                }
            }
            try? await Task.sleep(for: configuration.probeInterval)
        }
    }

    // MARK: Certificate

    /// Keeps the certificate-expiry metric current and renews at two thirds of the lifetime (new key and CSR, over
    /// the mTLS hub channel); new connections use the new certificate, open ones keep theirs. Without a hub it only
    /// warns as expiry nears.
    func certificateLoop(_ runtime: Runtime) async {
        var failures = 0
        while !Task.isCancelled {
            let identity = runtime.identity
            let now = Date()
            let left = identity.notAfter.timeIntervalSince(now)
            metrics.certificateExpirySeconds.set(to: left)
            let lifetime = identity.notAfter.timeIntervalSince(identity.notBefore)
            if let hub = runtime.hub, now >= identity.renewalDate {
                do {
                    try await renew(runtime, hub: hub)
                    failures = 0
                    continue
                } catch {
                    if Task.isCancelled { return }
                    failures += 1
                    metrics.hubErrors("renew").increment()
                    let level: Logger.Level = left < lifetime / 6 ? .critical : .error
                    logger.log(level: level, "cannot renew the gateway certificate; peers will refuse this gateway when it expires",
                               metadata: ["meridian.error": "\(error)", "meridian.cert.expires_in_s": "\(Int(left))",
                                          "meridian.cert.not_after": "\(identity.notAfter)", "meridian.hub.failures": "\(failures)"])
                    try? await Task.sleep(for: .seconds(min(30, 2 << min(failures, 4))))
                    continue
                }
            }
            if runtime.hub == nil, left < lifetime / 6 {
                logger.warning("the gateway certificate expires soon and no hub is configured to renew it",
                               metadata: ["meridian.cert.expires_in_s": "\(Int(left))"])
            }
            let untilRenewal = identity.renewalDate.timeIntervalSince(now)
            let sleep = max(1, min(60, runtime.hub == nil ? 60 : untilRenewal))
            try? await Task.sleep(for: .milliseconds(Int64(sleep * 1000)))
        }
    }

    private func renew(_ runtime: Runtime, hub: HubSession) async throws {
        let (key, csr) = try GatewayKeyPair.generate(cluster: configuration.cluster)
        let client = try await hub.client(for: runtime.identity)
        let issued = try await client.renew(csrPEM: csr)
        let fresh = try await GatewayIdentity(chainPEM: issued.chainPEM, privateKeyPEM: key, trustBundlePEM: issued.trustBundlePEM,
                                              cluster: configuration.cluster, trustDomain: configuration.trustDomain)
        try fresh.write(to: configuration.dataDirectory)
        try runtime.tls.replace(chainPEM: fresh.chainPEM, privateKeyPEM: fresh.privateKeyPEM, trustBundle: TrustBundle(pem: fresh.trustBundlePEM))
        runtime.identity = fresh
        metrics.certificateExpirySeconds.set(to: fresh.notAfter.timeIntervalSinceNow)
        logger.info("gateway certificate renewed", metadata: ["meridian.serial": "\(fresh.serial)", "meridian.cert.not_after": "\(fresh.notAfter)"])
    }

    // MARK: Access log

    func flushLoop(_ accessLog: AccessLog) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(250))
            accessLog.flush()
        }
        accessLog.flush()
    }
}
