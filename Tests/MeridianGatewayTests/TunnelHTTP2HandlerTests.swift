import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

@testable import MeridianGateway

/// ``TunnelHTTP2Handler`` against itself and against swift-nio-http2's `NIOHTTP2Handler` (a gateway of an earlier
/// version during a rolling upgrade, or any swift-nio-http2 client or server), both ends with an ``HTTP2StreamMux``
/// as in the gateway, over bytes moved by hand between two embedded channels.
@Suite("Tunnel HTTP/2")
struct TunnelHTTP2HandlerTests {
    /// Records what a stream's owner is told.
    final class Recorder: HTTP2MuxStreamDelegate {
        var blocks: [(HeaderFields, endStream: Bool)] = []
        var body = ByteBuffer()
        var dataEnded = false
        var closed: (any Error)?? = nil

        func streamReceived(_ payload: StreamFrame.Payload) {
            switch payload {
            case .headers(let headers): blocks.append((headers.headers, headers.endStream))
            case .data(let data):
                if case .byteBuffer(var bytes) = data.data { body.writeBuffer(&bytes) }
                if data.endStream { dataEnded = true }
            default: break
            }
        }
        func streamReadComplete() {}
        func streamBecameWritable() {}
        func streamClosed(_ error: (any Error)?) { closed = .some(error) }
    }

    final class Inbound {
        var streams: [(HTTP2MuxStream, Recorder)] = []
        /// The streams opened from now on consume nothing (their windows are not opened again).
        var pausing = false

        func opened(_ stream: HTTP2MuxStream) {
            let recorder = Recorder()
            stream.attach(recorder)
            if pausing { stream.pauseReading() }
            streams.append((stream, recorder))
        }
    }

    struct Pair {
        var client: EmbeddedChannel
        var clientMux: HTTP2StreamMux
        var server: EmbeddedChannel
        var inbound: Inbound
        /// Bytes are handed over in pieces of at most this many (reads that end inside a frame or its header).
        var chunk = Int.max

        /// Moves bytes both ways (and runs the loops' tasks: the muxes' flushes) until neither end has more to say.
        func exchange() throws {
            for _ in 0..<10_000 {
                client.embeddedEventLoop.run()
                server.embeddedEventLoop.run()
                var moved = false
                while let bytes = try client.readOutbound(as: ByteBuffer.self) {
                    try hand(bytes, to: server)
                    moved = true
                }
                while let bytes = try server.readOutbound(as: ByteBuffer.self) {
                    try hand(bytes, to: client)
                    moved = true
                }
                if !moved { return }
            }
            Issue.record("the two ends never went quiet")
        }

        private func hand(_ bytes: ByteBuffer, to channel: EmbeddedChannel) throws {
            var bytes = bytes
            while bytes.readableBytes > 0 {
                try channel.writeInbound(bytes.readSlice(length: min(chunk, bytes.readableBytes))!)
            }
        }
    }

    /// Tells an ``HTTP2StreamMux`` behind a `NIOHTTP2Handler` what it wrote, as ``TunnelHTTP2Handler`` does itself.
    final class MuxFrameDelegate: NIOHTTP2FrameDelegate {
        let mux: HTTP2StreamMux
        init(_ mux: HTTP2StreamMux) { self.mux = mux }

        func wroteFrame(_ frame: HTTP2Frame) {
            switch frame.payload {
            case .data(let data): mux.dataWritten(frame.streamID, data.data.readableBytes)
            case .windowUpdate(let increment): mux.windowUpdateWritten(frame.streamID, increment)
            default: break
            }
        }
    }

    /// An end of swift-nio-http2's: `NIOHTTP2Handler` (its header-block validation off, the mux's on) and an
    /// ``HTTP2StreamMux``, with the gateway's settings.
    static func nioEnd(_ channel: EmbeddedChannel, server: Bool, window: Int,
                       inboundStream: HTTP2StreamMux.InboundStreamInitializer? = nil) throws -> HTTP2StreamMux {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = HTTP2Tuning.settings(server: server, window: window, maxHeaderBytes: 64 * 1024)
        connection.headerBlockValidation = .disabled
        let mux = HTTP2StreamMux(server: server, targetWindow: window, validatesHeaderBlocks: true, inboundStreamInitializer: inboundStream)
        try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: server ? .server : .client, frameDelegate: MuxFrameDelegate(mux),
                                                                       connectionConfiguration: connection))
        try channel.pipeline.syncOperations.addHandler(ToNIOFrames())
        try channel.pipeline.syncOperations.addHandler(mux)
        return mux
    }

    /// The mux's frames as `NIOHTTP2Handler` takes them.
    final class ToNIOFrames: ChannelOutboundHandler {
        typealias OutboundIn = StreamFrame
        typealias OutboundOut = HTTP2Frame

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let frame = unwrapOutboundIn(data)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: frame.streamID, payload: frame.payload.nio)), promise: promise)
        }
    }

    /// A client and a server end, each `TunnelHTTP2Handler` (a tunnel end, `tunnel`) or `NIOHTTP2Handler`
    /// (``nioEnd(_:server:window:inboundStream:)``), with 64 KiB windows.
    static func pair(tunnelClient: Bool, tunnelServer: Bool, chunk: Int = .max) throws -> Pair {
        let client = EmbeddedChannel()
        let server = EmbeddedChannel()
        let inbound = Inbound()
        let clientMux = tunnelClient
            ? try HTTP2Tuning.configure(client, server: false, tunnel: true, window: 64 * 1024)
            : try nioEnd(client, server: false, window: 64 * 1024)
        if tunnelServer {
            _ = try HTTP2Tuning.configure(server, server: true, tunnel: true, window: 64 * 1024) { stream in inbound.opened(stream) }
        } else {
            _ = try nioEnd(server, server: true, window: 64 * 1024) { stream in inbound.opened(stream) }
        }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
        try server.connect(to: address).wait()
        try client.connect(to: address).wait()
        let pair = Pair(client: client, clientMux: clientMux, server: server, inbound: inbound, chunk: chunk)
        try pair.exchange()
        return pair
    }

    static func bytes(_ count: Int, seed: UInt8) -> ByteBuffer {
        var buffer = ByteBuffer()
        for index in 0..<count { buffer.writeInteger(UInt8(truncatingIfNeeded: index &* 31 &+ Int(seed))) }
        return buffer
    }

    @Test("a request and a response larger than the windows, a header block larger than a frame, and trailers cross intact, in order, between any two ends",
          arguments: [(true, true), (true, false), (false, true)])
    func exchangesAcrossWindows(tunnelClient: Bool, tunnelServer: Bool) throws {
        let pair = try Self.pair(tunnelClient: tunnelClient, tunnelServer: tunnelServer)
        let requestBody = Self.bytes(300_000, seed: 7)
        let responseBody = Self.bytes(200_000, seed: 11)
        // A header block past the largest frame (16 KiB) goes as HEADERS and CONTINUATION frames, from a
        // TunnelHTTP2Handler (NIOHTTP2Handler cannot send one: it refuses to serialize it).
        let large = String(repeating: "v", count: 40_000)
        let requestLarge = tunnelClient ? large : "small"
        let responseLarge = tunnelServer ? large : "small"

        let client = Recorder()
        let stream = pair.clientMux.makeStream(client)
        stream.write(.headers(.init(headers: [":method": "POST", ":scheme": "https", ":authority": "chat.meridian", ":path": "/v1", "x-large": requestLarge])))
        // Written in pieces, as a relayed body is; most must wait for WINDOW_UPDATEs.
        var rest = requestBody
        while let piece = rest.readSlice(length: min(50_000, rest.readableBytes)), piece.readableBytes > 0 {
            stream.write(.data(.init(data: .byteBuffer(piece))))
        }
        stream.write(.headers(.init(headers: ["x-checksum": "ok"], endStream: true)))
        stream.flush()
        try pair.exchange()

        try #require(pair.inbound.streams.count == 1)
        let (serverStream, server) = pair.inbound.streams[0]
        #expect(server.blocks.count == 2)
        #expect(server.blocks.first?.0.first(name: "x-large") == requestLarge)
        #expect(server.blocks.first?.0.first(name: ":path") == "/v1")
        #expect(server.body == requestBody, "\(server.body.readableBytes) of \(requestBody.readableBytes) bytes")
        #expect(server.blocks.last?.0.first(name: "x-checksum") == "ok" && server.blocks.last?.endStream == true)

        serverStream.write(.headers(.init(headers: [":status": "200", "x-large": responseLarge])))
        serverStream.write(.data(.init(data: .byteBuffer(responseBody), endStream: true)))
        serverStream.flush()
        try pair.exchange()

        #expect(client.blocks.first?.0.first(name: ":status") == "200")
        #expect(client.blocks.first?.0.first(name: "x-large") == responseLarge)
        #expect(client.body == responseBody, "\(client.body.readableBytes) of \(responseBody.readableBytes) bytes")
        #expect(client.dataEnded)
        // Both ends closed the stream cleanly.
        #expect(client.closed.map { $0 == nil } == true)
        #expect(server.closed.map { $0 == nil } == true)
        _ = try? pair.client.finish()
        _ = try? pair.server.finish()
    }

    /// A frame as the other end wrote it.
    struct RawFrame {
        var type: UInt8
        var flags: UInt8
        var stream: Int
        var payload: ByteBuffer
    }

    /// A `TunnelHTTP2Handler` server and a raw client that has sent the preface and an empty SETTINGS, and then
    /// writes frames by hand.
    final class RawClient {
        let server = EmbeddedChannel()
        let inbound = Inbound()
        private var written = ByteBuffer()

        /// - Parameters:
        ///   - pausing: the streams' owners consume nothing (their windows are not opened again).
        ///   - tunnel: the server is a tunnel end; otherwise a local h2c listener's (with the limits for any client).
        ///   - settings: the preface's SETTINGS frame is sent (the preface's first line always is).
        init(pausing: Bool = false, tunnel: Bool = true, settings: Bool = true) throws {
            inbound.pausing = pausing
            _ = try HTTP2Tuning.configure(server, server: true, tunnel: tunnel, window: 64 * 1024) { [inbound] stream in
                inbound.opened(stream)
            }
            try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            var input = ByteBuffer(bytes: TunnelHTTP2Handler.preface)
            if settings { input.writeBytes([0, 0, 0, 4, 0, 0, 0, 0, 0]) }   // SETTINGS, empty
            _ = try send { $0.writeBuffer(&input) }
        }

        /// Writes what `frames` writes to the server; returns the frames the server wrote back since the last call.
        func send(_ frames: (inout ByteBuffer) throws -> Void) throws -> [RawFrame] {
            var input = ByteBuffer()
            try frames(&input)
            if input.readableBytes > 0 { _ = try? server.writeInbound(input) }
            return try received()
        }

        /// The frames the server wrote since the last call (after running its loop's tasks).
        func received() throws -> [RawFrame] {
            server.embeddedEventLoop.run()
            while var part = try server.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&part) }
            var frames: [RawFrame] = []
            while written.readableBytes >= 9 {
                let lengthAndType = written.getInteger(at: written.readerIndex, as: UInt32.self)!
                guard written.readableBytes >= 9 + Int(lengthAndType >> 8) else { break }
                written.moveReaderIndex(forwardBy: 4)
                let flags: UInt8 = written.readInteger()!
                let stream: UInt32 = written.readInteger()!
                frames.append(RawFrame(type: UInt8(lengthAndType & 0xff), flags: flags, stream: Int(stream),
                                       payload: written.readSlice(length: Int(lengthAndType >> 8))!))
            }
            return frames
        }
    }

    /// A raw client's frames (`frames`) to a `TunnelHTTP2Handler` server; returns the frames the server wrote back
    /// (type, flags, stream, payload) and whether the connection is still open.
    /// `pausing`: the streams' owners consume nothing. `unwritable`: the connection cannot take writes (the peer reads
    /// nothing).
    static func rawExchange(pausing: Bool = false, unwritable: Bool = false,
                            _ frames: (inout ByteBuffer) throws -> Void) throws -> (frames: [(UInt8, UInt8, Int, ByteBuffer)], active: Bool) {
        let raw = try RawClient(pausing: pausing)
        var written = try raw.received()
        if unwritable { raw.server.isWritable = false }
        written += try raw.send(frames)
        let active = raw.server.isActive
        _ = try? raw.server.finish()
        return (written.map { ($0.type, $0.flags, $0.stream, $0.payload) }, active)
    }

    static func frame(_ type: UInt8, flags: UInt8 = 0, stream: Int, _ payload: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(payload.readableBytes) << 8 | UInt32(type))
        buffer.writeInteger(flags)
        buffer.writeInteger(UInt32(stream))
        buffer.writeImmutableBuffer(payload)
    }

    static func requestBlock() throws -> ByteBuffer {
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var block = ByteBuffer()
        try encoder.encode(headers: [":method": "POST", ":scheme": "https", ":authority": "chat.meridian", ":path": "/"], to: &block)
        return block
    }

    @Test("a peer that sends past a stream's window gets RST_STREAM with FLOW_CONTROL_ERROR; the connection stays")
    func streamWindowOverrun() throws {
        let result = try Self.rawExchange(pausing: true) { input in
            Self.frame(1, flags: 0x4, stream: 1, try Self.requestBlock(), into: &input)
            // 5 x 16 KiB: past the stream's 64 KiB (its owner consumed nothing, so no WINDOW_UPDATE opened it).
            for _ in 0..<5 { Self.frame(0, stream: 1, Self.bytes(16_384, seed: 1), into: &input) }
        }
        let reset = result.frames.first { $0.0 == 3 }
        #expect(reset?.2 == 1)
        var payload = try #require(reset?.3)
        #expect(payload.readInteger(as: UInt32.self) == UInt32(HTTP2ErrorCode.flowControlError.networkCode))
        #expect(result.active)
        #expect(!result.frames.contains { $0.0 == 7 })
    }

    @Test("a PING is answered with its data; a frame that breaks the protocol gets GOAWAY with PROTOCOL_ERROR")
    func pingAndProtocolError() throws {
        let pinged = try Self.rawExchange { input in
            Self.frame(6, stream: 0, ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8]), into: &input)
        }
        let ack = pinged.frames.first { $0.0 == 6 }
        #expect(ack?.1 == 0x1 && ack.map { Array($0.3.readableBytesView) } == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(pinged.active)

        // DATA on a stream the peer never opened.
        let broken = try Self.rawExchange { input in
            Self.frame(0, stream: 5, Self.bytes(10, seed: 1), into: &input)
        }
        let goAway = broken.frames.first { $0.0 == 7 }
        var payload = try #require(goAway?.3)
        _ = payload.readInteger(as: UInt32.self)
        #expect(payload.readInteger(as: UInt32.self) == UInt32(HTTP2ErrorCode.protocolError.networkCode))
        #expect(!broken.active)
    }

    @Test("a peer that keeps sending PINGs while it reads nothing is cut off with ENHANCE_YOUR_CALM; one that reads is answered")
    func pingFloodWhileUnread() throws {
        let pings: (inout ByteBuffer) -> Void = { input in
            for index in 0..<(TunnelHTTP2Handler.maxUnreadAnswers + 10) {
                var data = ByteBuffer()
                data.writeInteger(UInt64(index))
                Self.frame(6, stream: 0, data, into: &input)
            }
        }
        let flooded = try Self.rawExchange(unwritable: true, pings)
        let goAway = flooded.frames.first { $0.0 == 7 }
        var payload = try #require(goAway?.3)
        _ = payload.readInteger(as: UInt32.self)
        #expect(payload.readInteger(as: UInt32.self) == UInt32(HTTP2ErrorCode.enhanceYourCalm.networkCode))
        #expect(!flooded.active)

        let read = try Self.rawExchange(pings)
        #expect(read.frames.filter { $0.0 == 6 }.count == TunnelHTTP2Handler.maxUnreadAnswers + 10)
        #expect(read.active)
    }

    @Test("a stream opened above the last one of a GOAWAY this end sent is refused with REFUSED_STREAM")
    func refusedAfterGoAway() throws {
        let server = EmbeddedChannel()
        var opened = 0
        _ = try HTTP2Tuning.configure(server, server: true, tunnel: true, window: 64 * 1024) { stream in
            opened += 1
            stream.attach(Recorder())
        }
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var input = ByteBuffer(bytes: TunnelHTTP2Handler.preface)
        input.writeBytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var first = ByteBuffer(), second = ByteBuffer()
        try encoder.encode(headers: [":method": "GET", ":scheme": "https", ":authority": "a", ":path": "/1"], to: &first)
        try encoder.encode(headers: [":method": "GET", ":scheme": "https", ":authority": "a", ":path": "/2"], to: &second)
        Self.frame(1, flags: 0x5, stream: 1, first, into: &input)
        try server.writeInbound(input)
        try server.writeOutbound(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: 1, errorCode: .noError, opaqueData: nil)))
        server.flush()
        while try server.readOutbound(as: ByteBuffer.self) != nil {}
        var next = ByteBuffer()
        Self.frame(1, flags: 0x5, stream: 3, second, into: &next)
        try server.writeInbound(next)
        server.embeddedEventLoop.run()
        var written = ByteBuffer()
        while var part = try server.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&part) }
        #expect(opened == 1)
        let lengthAndType: UInt32? = written.readInteger()
        _ = written.readInteger(as: UInt8.self)
        let stream: UInt32? = written.readInteger()
        let code: UInt32? = written.readInteger()
        #expect(lengthAndType.map { $0 & 0xff } == 3 && stream == 3 && code == UInt32(HTTP2ErrorCode.refusedStream.networkCode))
        _ = try? server.finish()
    }
}
