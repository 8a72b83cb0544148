import MeridianClient

/// The gateway's mTLS client to the hub replicas, remade when the gateway's certificate changes (renewal).
actor HubSession {
    let baseURLs: [String]
    /// Roots that sign the hub's HTTPS certificate; `nil` uses the mesh trust bundle of the identity.
    let hubCAPEM: String?
    private var client: HubClient?
    private var serial: String?

    init(baseURLs: [String], hubCAPEM: String?) {
        self.baseURLs = baseURLs
        self.hubCAPEM = hubCAPEM
    }

    /// A client that presents `identity`.
    func client(for identity: GatewayIdentity) async throws -> HubClient {
        if let client, serial == identity.serial { return client }
        if let old = client { try? await old.shutdown() }
        let fresh = try HubClient(baseURLs: baseURLs, credentials: .certificate(chainPEM: identity.chainPEM, privateKeyPEM: identity.privateKeyPEM),
                                  caPEM: hubCAPEM ?? identity.trustBundlePEM)
        client = fresh
        serial = identity.serial
        return fresh
    }

    func shutdown() async {
        if let client { try? await client.shutdown() }
        client = nil
        serial = nil
    }
}
