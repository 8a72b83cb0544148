/// The CA as the database keeps it: the certificate, the chain above it and the trust bundle in PEM, and the private
/// key sealed with AES-256-GCM under the operator's encryption key (`MeridianPKI.CAEncryptionKey`). The certificate's DER is the sealed box's
/// associated data, so a sealed key cannot be paired with another certificate.
public struct SealedMeshCA: Sendable, Hashable {
    public var trustDomain: String
    public var certificatePEM: String
    public var chainPEM: String
    public var trustBundlePEM: String
    /// Nonce, ciphertext and tag (`AES.GCM.SealedBox.combined`).
    public var sealedKey: [UInt8]
    /// The id of the key that sealed it (`CAEncryptionKey.id`).
    public var keyID: String

    public init(trustDomain: String, certificatePEM: String, chainPEM: String, trustBundlePEM: String, sealedKey: [UInt8], keyID: String) {
        self.trustDomain = trustDomain
        self.certificatePEM = certificatePEM
        self.chainPEM = chainPEM
        self.trustBundlePEM = trustBundlePEM
        self.sealedKey = sealedKey
        self.keyID = keyID
    }
}
