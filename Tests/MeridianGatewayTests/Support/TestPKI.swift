import Foundation
import MeridianModel
import MeridianPKI

/// A mesh CA made at test time and gateway certificates from it, written to a temporary directory.
struct TestPKI {
    static let trustDomain = "mesh.test"

    let ca: MeshCA
    let directory: String

    init() throws {
        ca = try MeshCA.create(trustDomain: Self.trustDomain)
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("meridian-gw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try ca.trustBundlePEM.write(toFile: path("trust-bundle.pem"), atomically: true, encoding: .utf8)
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// Issues `cluster`'s gateway certificate through the join path and writes `CLUSTER.pem` / `CLUSTER-key.pem`.
    @discardableResult
    func issue(_ cluster: String, lifetime: TimeInterval = 3600) throws -> (chainPEM: String, keyPEM: String) {
        let (key, csr) = try GatewayKeyPair.generate(cluster: cluster)
        let issued = try ca.issueGatewayCertificate(csrPEM: csr, cluster: cluster, lifetime: lifetime)
        try issued.chainPEM.write(toFile: path("\(cluster).pem"), atomically: true, encoding: .utf8)
        try key.write(toFile: path("\(cluster)-key.pem"), atomically: true, encoding: .utf8)
        return (issued.chainPEM, key)
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
