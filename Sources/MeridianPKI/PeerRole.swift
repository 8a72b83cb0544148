/// The TLS role a peer plays on a connection, which decides the extended key usage its certificate must allow.
public enum PeerRole: String, Sendable, Hashable, CaseIterable {
    /// The peer is the TLS server (we dialled it): its certificate needs EKU serverAuth.
    case server
    /// The peer is the TLS client (it dialled us): its certificate needs EKU clientAuth.
    case client
}
