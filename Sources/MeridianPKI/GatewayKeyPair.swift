import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel
import SwiftASN1
import X509

/// A gateway's own key pair and the certificate signing request it sends with a join token or a renewal.
///
/// The private key never leaves the gateway; only the CSR goes to the hub, which ignores everything in it except
/// the public key and checks the self-signature.
public enum GatewayKeyPair {
    /// Generates an ECDSA P-256 key and a CSR for it.
    ///
    /// - Parameter cluster: the cluster name; it becomes the CSR's common name (informative only: the hub takes the
    ///   name from the join token or the caller's certificate).
    /// - Returns: the private key as PKCS#8 PEM (`PRIVATE KEY`) and the CSR as PEM (`CERTIFICATE REQUEST`).
    public static func generate(cluster: String) throws(MeshPKIError) -> (privateKeyPEM: String, csrPEM: String) {
        let key = P256.Signing.PrivateKey()
        let privateKeyPEM = key.pemRepresentation + "\n"
        return (privateKeyPEM, try makeCSR(privateKeyPEM: privateKeyPEM, cluster: cluster))
    }

    /// Makes a CSR for an existing private key (any PEM form swift-certificates reads), for example to renew without
    /// changing the key.
    public static func makeCSR(privateKeyPEM: String, cluster: String) throws(MeshPKIError) -> String {
        let privateKey: Certificate.PrivateKey
        do {
            privateKey = try Certificate.PrivateKey(pemEncoded: privateKeyPEM)
        } catch {
            throw MeshPKIError(.invalidPEM, "the gateway private key is not a PEM private key: \(error)")
        }
        do {
            let subject = try DistinguishedName {
                OrganizationName("Meridian")
                CommonName(cluster)
            }
            let csr = try CertificateSigningRequest(
                version: .v1, subject: subject, privateKey: privateKey, attributes: CertificateSigningRequest.Attributes())
            return try csr.serializeAsPEM().pemString + "\n"
        } catch {
            throw MeshPKIError(.invalidCSR, "cannot make a CSR for cluster '\(cluster)': \(error)")
        }
    }
}
