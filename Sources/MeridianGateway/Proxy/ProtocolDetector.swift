import NIOCore

/// Tells HTTP/2 with prior knowledge (h2c) from HTTP/1.1 on one port by the first bytes of a connection: a client
/// that speaks h2c starts with the connection preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, which no HTTP/1.1 request
/// can start with.
///
/// It holds the bytes until it can tell (the first byte that differs from the preface, or the whole preface), calls
/// `configure` to build the right pipeline behind it, replays the bytes and removes itself.
final class ProtocolDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

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

    private let configure: (any Channel, WireProtocol) throws -> Void
    private var buffered: ByteBuffer?

    init(configure: @escaping (any Channel, WireProtocol) throws -> Void) {
        self.configure = configure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        guard let bytes = buffered, let wire = Self.detect(bytes.readableBytesView) else { return }
        do {
            try configure(context.channel, wire)
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        buffered = nil
        context.fireChannelInactive()
    }
}
