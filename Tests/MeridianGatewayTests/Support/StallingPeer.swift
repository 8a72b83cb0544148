import NIOCore
import NIOPosix

/// Misbehaving peers at the TCP level: a client that connects and stalls (optionally after a few bytes), and a
/// listener that accepts connections and never answers.
enum StallingPeer {
    /// A raw TCP connection to `port` that writes `bytes` (maybe none) and then does nothing; `closed` completes when
    /// the far end closes it.
    struct Client: Sendable {
        let channel: any Channel
        var closed: EventLoopFuture<Void> { channel.closeFuture }

        static func connect(port: Int, sending bytes: [UInt8]) async throws -> Client {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get()
            if !bytes.isEmpty {
                try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
            }
            return Client(channel: channel)
        }

        func close() {
            channel.close(promise: nil)
        }
    }

    /// The first bytes of a TLS 1.3 ClientHello: a handshake record header announcing 512 bytes, then only the start
    /// of the hello (type, length, legacy version, part of the random). A TLS server waits for the rest.
    static let partialClientHello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + Array(repeating: 0x2a, count: 20)

    /// Accepts TCP connections and never reads or writes a byte of TLS: a peer whose handshake never finishes.
    final class Listener: Sendable {
        let channel: any Channel
        var port: Int { channel.localAddress?.port ?? 0 }
        /// Connections accepted so far.
        let accepted: Locked<[any Channel]>

        private init(channel: any Channel, accepted: Locked<[any Channel]>) {
            self.channel = channel
            self.accepted = accepted
        }

        static func start() async throws -> Listener {
            let accepted = Locked<[any Channel]>([])
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { child in
                    accepted.withLock { $0.append(child) }
                    return child.eventLoop.makeSucceededVoidFuture()
                }
                .bind(host: "127.0.0.1", port: 0).get()
            return Listener(channel: channel, accepted: accepted)
        }

        func stop() async {
            for child in accepted.value { child.close(promise: nil) }
            try? await channel.close()
        }
    }
}
