import MeridianClient

/// The gateway's mTLS client to the hub replicas, remade when the gateway's certificate changes (renewal).
actor HubSession {
    let baseURLs: [String]
    /// Roots that sign the hub's HTTPS certificate; `nil` uses the mesh trust bundle of the identity.
    let hubCAPEM: String?
    private var client: HubClient?
    private var serial: String?
    /// Clients of earlier certificates, shut down once the requests in flight on them have had time to end.
    private var retired: [HubClient] = []
    /// How long a retired client keeps its requests in flight (a heartbeat, the watch's long poll).
    static let retirementGrace: Duration = .seconds(30)

    init(baseURLs: [String], hubCAPEM: String?) {
        self.baseURLs = baseURLs
        self.hubCAPEM = hubCAPEM
    }

    /// A client that presents `identity`.
    ///
    /// After a renewal the new client is returned at once and the old one is shut down later, in the background.
    /// Awaiting its shutdown here held every caller (heartbeats included) for seconds, and suspending inside the actor
    /// let concurrent callers each make a client of their own: the hub saw every gateway that renewed go 3.2-3.8 s
    /// without a heartbeat, so it took the two EU clusters of the renewal test down at once and refused their
    /// traffic (503) until the next heartbeats.
    func client(for identity: GatewayIdentity) throws -> HubClient {
        if let client, serial == identity.serial { return client }
        let fresh = try HubClient(baseURLs: baseURLs, credentials: .certificate(chainPEM: identity.chainPEM, privateKeyPEM: identity.privateKeyPEM),
                                  caPEM: hubCAPEM ?? identity.trustBundlePEM)
        if let old = client {
            retired.append(old)
            Task {
                try? await Task.sleep(for: Self.retirementGrace)
                await self.retire(old)
            }
        }
        client = fresh
        serial = identity.serial
        return fresh
    }

    private func retire(_ old: HubClient) async {
        guard let index = retired.firstIndex(where: { $0 === old }) else { return }
        retired.remove(at: index)
        try? await old.shutdown()
    }

    func shutdown() async {
        let clients = retired + (client.map { [$0] } ?? [])
        retired = []
        client = nil
        serial = nil
        for client in clients { try? await client.shutdown() }
    }
}
