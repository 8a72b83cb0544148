#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reachability of one peer gateway as a gateway's prober sees it.
public struct PeerProbe: Codable, Sendable, Hashable {
    public var peer: String
    public var reachable: Bool
    /// Median RTT of recent probes, milliseconds.
    public var rttMs: Double?

    public init(peer: String, reachable: Bool, rttMs: Double? = nil) {
        self.peer = peer
        self.reachable = reachable
        self.rttMs = rttMs
    }
}

/// `POST /v1/gateway/heartbeat` (mTLS): a gateway's periodic report.
public struct Heartbeat: Codable, Sendable, Hashable {
    public var cluster: String
    public var sentAt: Date
    public var appliedTableVersion: Int64?
    public var appliedTableHash: String?
    /// Milliseconds between the hub publishing the applied version and the gateway applying it.
    public var lastApplyLatencyMs: Double?
    public var inventory: InventoryReport
    public var probes: [PeerProbe]
    /// Certificate expiry as the gateway holds it.
    public var certificateNotAfter: Date?

    public init(cluster: String, sentAt: Date, appliedTableVersion: Int64? = nil, appliedTableHash: String? = nil,
                lastApplyLatencyMs: Double? = nil, inventory: InventoryReport, probes: [PeerProbe], certificateNotAfter: Date? = nil) {
        self.cluster = cluster
        self.sentAt = sentAt
        self.appliedTableVersion = appliedTableVersion
        self.appliedTableHash = appliedTableHash
        self.lastApplyLatencyMs = lastApplyLatencyMs
        self.inventory = inventory
        self.probes = probes
        self.certificateNotAfter = certificateNotAfter
    }
}

/// `POST /v1/join`: a gateway's first contact, authorised by a one-time join token.
public struct JoinRequest: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["cluster", "token", "csrPEM"]
    public var cluster: String
    public var token: String
    /// PKCS#10 certificate signing request for the gateway's own key.
    public var csrPEM: String

    public init(cluster: String, token: String, csrPEM: String) {
        self.cluster = cluster
        self.token = token
        self.csrPEM = csrPEM
    }
}

/// `POST /v1/gateway/renew` (mTLS): a new CSR for the calling gateway's identity.
public struct RenewRequest: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["csrPEM"]
    public var csrPEM: String
    public init(csrPEM: String) { self.csrPEM = csrPEM }
}

/// The hub's answer to a join or a renewal.
public struct IssuedCertificate: Codable, Sendable, Hashable {
    /// Leaf certificate, PEM.
    public var certificatePEM: String
    /// Leaf followed by any intermediates, PEM.
    public var chainPEM: String
    /// Every root the mesh trusts, PEM.
    public var trustBundlePEM: String
    public var spiffeID: String
    public var serial: String
    public var notAfter: Date

    public init(certificatePEM: String, chainPEM: String, trustBundlePEM: String, spiffeID: String, serial: String, notAfter: Date) {
        self.certificatePEM = certificatePEM
        self.chainPEM = chainPEM
        self.trustBundlePEM = trustBundlePEM
        self.spiffeID = spiffeID
        self.serial = serial
        self.notAfter = notAfter
    }
}

/// Per-cluster distribution status (`GET /v1/clusters/{name}/config-status`).
public struct ConfigStatus: Codable, Sendable, Hashable {
    public var cluster: String
    public var publishedVersion: Int64?
    public var appliedVersion: Int64?
    public var publishedAt: Date?
    public var appliedAt: Date?
    /// Push latency: applied minus published, milliseconds.
    public var convergenceMs: Double?

    public init(cluster: String, publishedVersion: Int64?, appliedVersion: Int64?, publishedAt: Date?, appliedAt: Date?, convergenceMs: Double?) {
        self.cluster = cluster
        self.publishedVersion = publishedVersion
        self.appliedVersion = appliedVersion
        self.publishedAt = publishedAt
        self.appliedAt = appliedAt
        self.convergenceMs = convergenceMs
    }
}

/// SPIFFE IDs of Meridian workloads.
public enum SPIFFEID {
    /// `spiffe://TRUST-DOMAIN/cluster/NAME/gateway`
    public static func gateway(trustDomain: String, cluster: String) -> String {
        "spiffe://\(trustDomain)/cluster/\(cluster)/gateway"
    }

    /// Parses a gateway SPIFFE ID into (trust domain, cluster); nil for anything else.
    public static func parseGateway(_ uri: String) -> (trustDomain: String, cluster: String)? {
        guard uri.hasPrefix("spiffe://") else { return nil }
        let parts = uri.dropFirst("spiffe://".count).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[1] == "cluster", parts[3] == "gateway", !parts[0].isEmpty, !parts[2].isEmpty else { return nil }
        return (String(parts[0]), String(parts[2]))
    }
}
