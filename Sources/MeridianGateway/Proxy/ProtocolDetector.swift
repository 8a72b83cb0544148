import NIOCore

/// Tells HTTP/2 with prior knowledge (h2c) from HTTP/1.1 on one port by the first bytes of a connection: a client
/// that speaks h2c starts with the connection preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, which no HTTP/1.1 request
/// can start with.
///
/// A local connection's ``DownstreamHandler`` holds the bytes until it can tell (the first byte that differs from the
/// preface, or the whole preface); for h2c it builds the pipeline behind itself, passes the bytes on and leaves.
enum ProtocolDetector {
    /// The protocol a connection speaks.
    enum WireProtocol: Equatable {
        case http1
        case http2
    }

    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Decides from the bytes seen so far; `nil` while they are a proper prefix of the preface.
    static func detect(_ bytes: some Collection<UInt8>) -> WireProtocol? {
        for (index, byte) in bytes.prefix(preface.count).enumerated() where byte != preface[index] {
            return .http1
        }
        return bytes.count >= preface.count ? .http2 : nil
    }
}
