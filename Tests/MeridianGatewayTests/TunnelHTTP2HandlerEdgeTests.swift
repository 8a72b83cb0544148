import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

@testable import MeridianGateway

/// The paths of ``TunnelHTTP2Handler`` that a well-behaved exchange rarely takes: reads that end anywhere in a frame,
/// padding, a stream reset or refused while its DATA waits for a window, and a window that SETTINGS takes below zero.
extension TunnelHTTP2HandlerTests {
    static func settingsFrame(_ identifier: UInt16, _ value: UInt32, into buffer: inout ByteBuffer) {
        var payload = ByteBuffer()
        payload.writeMultipleIntegers(identifier, value)
        frame(4, stream: 0, payload, into: &buffer)
    }

    static func windowUpdate(stream: Int, _ increment: UInt32, into buffer: inout ByteBuffer) {
        var payload = ByteBuffer()
        payload.writeInteger(increment)
        frame(8, stream: stream, payload, into: &buffer)
    }

    /// The DATA bytes (without padding) in `frames` for `stream`, and whether one of them ended it.
    static func data(in frames: [RawFrame], stream: Int) -> (bytes: Int, ended: Bool) {
        let data = frames.filter { $0.type == 0 && $0.stream == stream }
        return (data.reduce(0) { $0 + $1.payload.readableBytes }, data.contains { $0.flags & 0x1 != 0 })
    }

    @Test("reads that end anywhere (inside the preface, a frame header, a payload or a CONTINUATION) lose and reorder nothing",
          arguments: [1, 2, 9, 10, 4_099])
    func splitReads(chunk: Int) throws {
        let pair = try Self.pair(tunnelClient: true, tunnelServer: true, chunk: chunk)
        let requestBody = Self.bytes(70_000, seed: 3)
        let responseBody = Self.bytes(20_000, seed: 5)
        let large = String(repeating: "h", count: 20_000)   // two frames: HEADERS and CONTINUATION

        let client = Recorder()
        let stream = pair.clientMux.makeStream(client)
        stream.write(.headers(.init(headers: [":method": "POST", ":scheme": "https", ":authority": "a", ":path": "/split", "x-large": large])))
        stream.write(.data(.init(data: .byteBuffer(requestBody))))
        stream.write(.headers(.init(headers: ["x-sum": "1"], endStream: true)))
        stream.flush()
        try pair.exchange()

        try #require(pair.inbound.streams.count == 1)
        let (serverStream, server) = pair.inbound.streams[0]
        #expect(server.blocks.first?.0.first(name: "x-large") == large)
        #expect(server.body == requestBody, "\(server.body.readableBytes) of \(requestBody.readableBytes) bytes")
        #expect(server.blocks.last?.0.first(name: "x-sum") == "1" && server.blocks.last?.endStream == true)

        serverStream.write(.headers(.init(headers: [":status": "200"])))
        serverStream.write(.data(.init(data: .byteBuffer(responseBody), endStream: true)))
        serverStream.flush()
        try pair.exchange()
        #expect(client.blocks.first?.0.first(name: ":status") == "200")
        #expect(client.body == responseBody)
        #expect(client.closed.map { $0 == nil } == true)
        #expect(server.closed.map { $0 == nil } == true)
        #expect(pair.client.isActive && pair.server.isActive)
        _ = try? pair.client.finish()
        _ = try? pair.server.finish()
    }

    @Test("padded HEADERS (with a priority) and DATA are read without their padding, which still counts against the windows")
    func paddedFrames() throws {
        let raw = try TunnelHTTP2HandlerTests.RawClient()
        let body = Self.bytes(1_000, seed: 9)
        _ = try raw.send { input in
            var headers = ByteBuffer()
            headers.writeInteger(UInt8(10))                 // pad length
            headers.writeBytes([0x80, 0, 0, 0, 16])         // priority: exclusive, depends on 0, weight 16
            var block = try Self.requestBlock()
            headers.writeBuffer(&block)
            headers.writeRepeatingByte(0, count: 10)
            Self.frame(1, flags: 0x8 | 0x20 | 0x4, stream: 1, headers, into: &input)
            var data = ByteBuffer()
            data.writeInteger(UInt8(20))
            data.writeImmutableBuffer(body)
            data.writeRepeatingByte(0, count: 20)
            Self.frame(0, flags: 0x8, stream: 1, data, into: &input)
            Self.frame(0, flags: 0x8 | 0x1, stream: 1, ByteBuffer(bytes: [255] + [UInt8](repeating: 0, count: 255)), into: &input)
        }
        try #require(raw.inbound.streams.count == 1)
        let recorder = raw.inbound.streams[0].1
        #expect(recorder.blocks.first?.0.first(name: ":path") == "/")
        #expect(recorder.blocks.first?.0.count == 4)
        #expect(recorder.body == body)
        #expect(recorder.dataEnded)
        _ = try? raw.server.finish()

        // 5 x (13,000 bytes of data + 256 of padding) = 66,280 flow-controlled bytes: past the stream's 64 KiB
        // although the data alone (65,000) is not.
        let paused = try TunnelHTTP2HandlerTests.RawClient(pausing: true)
        let frames = try paused.send { input in
            Self.frame(1, flags: 0x4, stream: 1, try Self.requestBlock(), into: &input)
            for _ in 0..<5 {
                var data = ByteBuffer()
                data.writeInteger(UInt8(255))
                data.writeImmutableBuffer(Self.bytes(13_000, seed: 1))
                data.writeRepeatingByte(0, count: 255)
                Self.frame(0, flags: 0x8, stream: 1, data, into: &input)
            }
        }
        var reset = try #require(frames.first { $0.type == 3 })
        #expect(reset.stream == 1)
        #expect(reset.payload.readInteger(as: UInt32.self) == UInt32(HTTP2ErrorCode.flowControlError.networkCode))
        #expect(paused.server.isActive)
        _ = try? paused.server.finish()

        // Padding longer than the frame: a connection error.
        let broken = try Self.rawExchange { input in
            Self.frame(1, flags: 0x4, stream: 1, try Self.requestBlock(), into: &input)
            Self.frame(0, flags: 0x8, stream: 1, ByteBuffer(bytes: [200, 1, 2, 3]), into: &input)
        }
        var goAway = try #require(broken.frames.first { $0.0 == 7 }?.3)
        _ = goAway.readInteger(as: UInt32.self)
        #expect(goAway.readInteger(as: UInt32.self) == UInt32(HTTP2ErrorCode.protocolError.networkCode))
        #expect(!broken.active)
    }

    @Test("a stream reset while its DATA waits for a window fails the waiting writes, and what never left takes nothing from the connection's window")
    func resetWhileQueued() throws {
        let pair = try Self.pair(tunnelClient: true, tunnelServer: true)
        pair.inbound.pausing = true
        let client = Recorder()
        let stream = pair.clientMux.makeStream(client)
        let written = pair.client.eventLoop.makePromise(of: Void.self)
        var outcome: Result<Void, any Error>?
        written.futureResult.assumeIsolated().whenComplete { outcome = $0 }
        stream.write(.headers(.init(headers: [":method": "POST", ":scheme": "https", ":authority": "a", ":path": "/held"])))
        stream.write(.data(.init(data: .byteBuffer(Self.bytes(200_000, seed: 1)))), promise: written)
        stream.flush()
        try pair.exchange()
        // The server's owner consumed nothing: 64 KiB crossed, the rest waits at the client.
        try #require(pair.inbound.streams.count == 1)
        #expect(outcome == nil)

        pair.inbound.streams[0].0.reset(.cancel)
        try pair.exchange()
        #expect(outcome.map { if case .failure = $0 { true } else { false } } == true)
        let closed = try #require(client.closed)
        #expect((closed as? NIOHTTP2Errors.StreamClosed)?.errorCode == .cancel)

        // The connection carries a second stream's 150 KiB whole: only what left for the first counted against its
        // window, and the server gave that back when it dropped the stream's held bytes.
        pair.inbound.pausing = false
        let second = Recorder()
        let next = pair.clientMux.makeStream(second)
        let body = Self.bytes(150_000, seed: 2)
        next.write(.headers(.init(headers: [":method": "POST", ":scheme": "https", ":authority": "a", ":path": "/next"])))
        next.write(.data(.init(data: .byteBuffer(body), endStream: true)))
        next.flush()
        try pair.exchange()
        try #require(pair.inbound.streams.count == 2)
        #expect(pair.inbound.streams[1].1.body == body, "\(pair.inbound.streams[1].1.body.readableBytes) of \(body.readableBytes) bytes")
        #expect(pair.inbound.streams[1].1.dataEnded)
        _ = try? pair.client.finish()
        _ = try? pair.server.finish()
    }

    @Test("a GOAWAY that leaves out a stream whose DATA waits closes it as refused (it may be retried) and opens no new stream")
    func goAwayWhileQueued() throws {
        let pair = try Self.pair(tunnelClient: true, tunnelServer: true)
        pair.inbound.pausing = true
        let client = Recorder()
        let stream = pair.clientMux.makeStream(client)
        stream.write(.headers(.init(headers: [":method": "POST", ":scheme": "https", ":authority": "a", ":path": "/held"])))
        stream.write(.data(.init(data: .byteBuffer(Self.bytes(200_000, seed: 1)))))
        stream.flush()
        try pair.exchange()
        #expect(client.closed == nil)

        try pair.server.writeOutbound(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .rootStream, errorCode: .noError, opaqueData: nil)))
        pair.server.flush()
        try pair.exchange()
        let closed = try #require(client.closed)
        #expect((closed as? NIOHTTP2Errors.StreamClosed)?.errorCode == .refusedStream)

        let later = Recorder()
        let refused = pair.clientMux.makeStream(later)
        refused.write(.headers(.init(headers: [":method": "GET", ":scheme": "https", ":authority": "a", ":path": "/later"], endStream: true)))
        refused.flush()
        try pair.exchange()
        #expect(refused.firstFrameNotSent)
        #expect(later.closed != nil)
        #expect(pair.inbound.streams.count == 1)
        _ = try? pair.client.finish()
        _ = try? pair.server.finish()
    }

    @Test("a stream whose HEADERS were still in the handler's buffer when the connection closed is known never seen (it may go elsewhere); one whose HEADERS reached the socket is not")
    func unsentWhenConnectionCloses() throws {
        let pair = try Self.pair(tunnelClient: true, tunnelServer: true)
        let sentRecorder = Recorder()
        let sent = pair.clientMux.makeStream(sentRecorder)
        sent.write(.headers(.init(headers: [":method": "POST", ":scheme": "https", ":authority": "a", ":path": "/sent"])))
        sent.flush()
        try pair.exchange()
        let heldRecorder = Recorder()
        let held = pair.clientMux.makeStream(heldRecorder)
        held.write(.headers(.init(headers: [":method": "POST", ":scheme": "https", ":authority": "a", ":path": "/held"])))
        // No flush: the second stream's HEADERS wait in the handler's buffer.
        pair.client.pipeline.fireChannelInactive()
        #expect(heldRecorder.closed != nil)
        #expect(held.firstFrameNotSent, "the peer never saw it: its request may be retried, a POST too")
        #expect(sentRecorder.closed != nil)
        #expect(!sent.firstFrameNotSent, "handed to the socket: part of it may have left, so it counts as seen")
        _ = try? pair.client.finish()
        _ = try? pair.server.finish()
    }

    @Test("SETTINGS that shrink the initial window take a stream's send window below zero: DATA waits until updates bring it above again")
    func windowBelowZero() throws {
        let raw = try TunnelHTTP2HandlerTests.RawClient()
        _ = try raw.send { input in
            Self.windowUpdate(stream: 0, 1_000_000, into: &input)   // only the stream's window limits
            Self.frame(1, flags: 0x4 | 0x1, stream: 1, try Self.requestBlock(), into: &input)
        }
        try #require(raw.inbound.streams.count == 1)
        let (stream, recorder) = raw.inbound.streams[0]
        stream.write(.headers(.init(headers: [":status": "200"])))
        stream.write(.data(.init(data: .byteBuffer(Self.bytes(200_000, seed: 4)), endStream: true)))
        stream.flush()
        #expect(Self.data(in: try raw.received(), stream: 1).bytes == 65_535)

        // 65,535 -> 16,384: the stream's window, spent, is now -49,151.
        var frames = try raw.send { Self.settingsFrame(4, 16_384, into: &$0) }
        #expect(frames.contains { $0.type == 4 && $0.flags == 0x1 })
        #expect(Self.data(in: frames, stream: 1).bytes == 0)
        frames = try raw.send { Self.windowUpdate(stream: 1, 49_151, into: &$0) }
        #expect(Self.data(in: frames, stream: 1).bytes == 0)
        frames = try raw.send { Self.windowUpdate(stream: 1, 1_000, into: &$0) }
        #expect(Self.data(in: frames, stream: 1).bytes == 1_000)
        // Back to 65,535: +49,151.
        frames = try raw.send { Self.settingsFrame(4, 65_535, into: &$0) }
        #expect(Self.data(in: frames, stream: 1).bytes == 49_151)
        frames = try raw.send { Self.windowUpdate(stream: 1, 100_000, into: &$0) }
        let rest = Self.data(in: frames, stream: 1)
        #expect(rest.bytes == 200_000 - 65_535 - 1_000 - 49_151 && rest.ended)
        #expect(recorder.closed.map { $0 == nil } == true)
        #expect(raw.server.isActive)
        _ = try? raw.server.finish()
    }

    static func goAwayCode(in frames: [RawFrame]) -> HTTP2ErrorCode? {
        guard var payload = frames.first(where: { $0.type == 7 })?.payload else { return nil }
        _ = payload.readInteger(as: UInt32.self)
        return payload.readInteger(as: UInt32.self).map { HTTP2ErrorCode(networkCode: Int($0)) }
    }

    @Test("a local h2c client that opens and resets streams faster than 200 per 30 s is cut off with ENHANCE_YOUR_CALM; a tunnel peer is not")
    func rapidReset() throws {
        for tunnel in [false, true] {
            let raw = try TunnelHTTP2HandlerTests.RawClient(tunnel: tunnel)
            var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
            let frames = try raw.send { input in
                for index in 0..<250 {
                    var block = ByteBuffer()
                    try encoder.encode(headers: [":method": "GET", ":scheme": "http", ":authority": "a", ":path": "/\(index)"], to: &block)
                    let id = 1 + 2 * index
                    Self.frame(1, flags: 0x4, stream: id, block, into: &input)
                    Self.frame(3, stream: id, ByteBuffer(bytes: [0, 0, 0, 8]), into: &input)   // CANCEL
                }
            }
            if tunnel {
                #expect(Self.goAwayCode(in: frames) == nil)
                #expect(raw.server.isActive)
            } else {
                #expect(Self.goAwayCode(in: frames) == .enhanceYourCalm)
                #expect(!raw.server.isActive)
                #expect(raw.inbound.streams.count <= 201)
            }
            _ = try? raw.server.finish()
        }
    }

    @Test("a header block of more than 64 CONTINUATION frames (empty ones too), or more than 100 empty DATA frames in a row, ends the connection with ENHANCE_YOUR_CALM")
    func continuationAndEmptyDataFloods() throws {
        let continuations = try TunnelHTTP2HandlerTests.RawClient()
        let flooded = try continuations.send { input in
            Self.frame(1, stream: 1, ByteBuffer(), into: &input)   // HEADERS without END_HEADERS
            for _ in 0..<100 { Self.frame(9, stream: 1, ByteBuffer(), into: &input) }
        }
        #expect(Self.goAwayCode(in: flooded) == .enhanceYourCalm)
        #expect(continuations.inbound.streams.isEmpty)
        _ = try? continuations.server.finish()

        let empty = try TunnelHTTP2HandlerTests.RawClient(tunnel: false)
        let frames = try empty.send { input in
            Self.frame(1, flags: 0x4, stream: 1, try Self.requestBlock(), into: &input)
            for _ in 0..<150 { Self.frame(0, stream: 1, ByteBuffer(), into: &input) }
        }
        #expect(Self.goAwayCode(in: frames) == .enhanceYourCalm)
        _ = try? empty.server.finish()

        // Fewer, with data between them: served.
        let fine = try TunnelHTTP2HandlerTests.RawClient(tunnel: false)
        let served = try fine.send { input in
            Self.frame(1, flags: 0x4, stream: 1, try Self.requestBlock(), into: &input)
            for _ in 0..<150 {
                Self.frame(0, stream: 1, ByteBuffer(), into: &input)
                Self.frame(0, stream: 1, ByteBuffer(bytes: [1]), into: &input)
            }
            Self.frame(0, flags: 0x1, stream: 1, ByteBuffer(), into: &input)
        }
        #expect(Self.goAwayCode(in: served) == nil)
        #expect(fine.inbound.streams.first?.1.body.readableBytes == 150)
        #expect(fine.inbound.streams.first?.1.dataEnded == true)
        _ = try? fine.server.finish()
    }

    @Test("a request's second header block must end the stream (trailers): one that does not resets the stream with PROTOCOL_ERROR")
    func trailersEndTheStream() throws {
        let raw = try TunnelHTTP2HandlerTests.RawClient(tunnel: false)
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        let frames = try raw.send { input in
            var block = ByteBuffer(), trailers = ByteBuffer()
            try encoder.encode(headers: [":method": "POST", ":scheme": "http", ":authority": "a", ":path": "/"], to: &block)
            try encoder.encode(headers: ["x-trailer": "1"], to: &trailers)
            Self.frame(1, flags: 0x4, stream: 1, block, into: &input)
            Self.frame(1, flags: 0x4, stream: 1, trailers, into: &input)   // no END_STREAM
        }
        var reset = try #require(frames.first { $0.type == 3 })
        #expect(reset.stream == 1)
        #expect(reset.payload.readInteger(as: UInt32.self) == UInt32(HTTP2ErrorCode.protocolError.networkCode))
        #expect(raw.server.isActive)
        #expect(raw.inbound.streams.first?.1.blocks.count == 1)
        _ = try? raw.server.finish()
    }

    @Test("a peer whose first frame after the preface is not SETTINGS gets GOAWAY with PROTOCOL_ERROR")
    func settingsFirst() throws {
        let raw = try TunnelHTTP2HandlerTests.RawClient(tunnel: false, settings: false)
        let frames = try raw.send { Self.frame(6, stream: 0, ByteBuffer(bytes: [1, 2, 3, 4, 5, 6, 7, 8]), into: &$0) }   // a PING first
        #expect(Self.goAwayCode(in: frames) == .protocolError)
        #expect(!frames.contains { $0.type == 6 }, "the PING was answered")
        #expect(!raw.server.isActive)
        _ = try? raw.server.finish()
    }
}

/// The client end of a connection to a local h2c endpoint (a gRPC model server, anyone's HTTP/2): a
/// `TunnelHTTP2Handler` with the limits for an unverified peer, against a server written by hand.
@Suite("HTTP/2 towards an h2c endpoint")
struct EndpointHTTP2Tests {
    typealias Raw = TunnelHTTP2HandlerTests

    /// The client's connection, its mux, and what it wrote (the preface and its SETTINGS) once connected; the
    /// server's SETTINGS hold `settings`.
    static func connect(settings: [(UInt16, UInt32)] = []) throws -> (EmbeddedChannel, HTTP2StreamMux, [TunnelHTTP2HandlerTests.RawFrame]) {
        let client = EmbeddedChannel()
        let mux = try HTTP2Tuning.configure(client, server: false, tunnel: false, window: 64 * 1024)
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var written = ByteBuffer()
        while var part = try client.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&part) }
        #expect(written.readBytes(length: 24) == TunnelHTTP2Handler.preface)
        // The server's SETTINGS, and its acknowledgement of the client's.
        var input = ByteBuffer()
        var payload = ByteBuffer()
        for (identifier, value) in settings { payload.writeMultipleIntegers(identifier, value) }
        Raw.frame(4, stream: 0, payload, into: &input)
        Raw.frame(4, flags: 0x1, stream: 0, ByteBuffer(), into: &input)
        try client.writeInbound(input)
        return (client, mux, try frames(in: &written))
    }

    static func frames(in written: inout ByteBuffer) throws -> [TunnelHTTP2HandlerTests.RawFrame] {
        var frames: [TunnelHTTP2HandlerTests.RawFrame] = []
        while written.readableBytes >= 9 {
            let lengthAndType: UInt32 = written.readInteger()!
            let flags: UInt8 = written.readInteger()!
            let stream: UInt32 = written.readInteger()!
            let slice = written.readSlice(length: Int(lengthAndType >> 8))
            let payload = try #require(slice, "a frame cut short")
            frames.append(.init(type: UInt8(lengthAndType & 0xff), flags: flags, stream: Int(stream), payload: payload))
        }
        return frames
    }

    /// What the client wrote since the last call.
    static func written(_ client: EmbeddedChannel) throws -> [TunnelHTTP2HandlerTests.RawFrame] {
        client.embeddedEventLoop.run()
        var written = ByteBuffer()
        while var part = try client.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&part) }
        return try frames(in: &written)
    }

    static func headers(_ fields: [(String, String)], encoder: inout HPACKEncoder) throws -> ByteBuffer {
        var block = ByteBuffer()
        try encoder.encode(headers: HPACKHeaders(fields), to: &block)
        return block
    }

    @Test("the client end says it takes no push; informational heads (103) reach the stream before the final one, then the body and trailers")
    func informationalHeads() throws {
        let (client, mux, first) = try Self.connect()
        let settings = try #require(first.first { $0.type == 4 })
        var payload = settings.payload
        var entries: [UInt16: UInt32] = [:]
        while payload.readableBytes >= 6 { entries[payload.readInteger()!] = payload.readInteger()! }
        #expect(entries[2] == 0, "SETTINGS_ENABLE_PUSH 0")

        let recorder = TunnelHTTP2HandlerTests.Recorder()
        let stream = mux.makeStream(recorder)
        stream.write(.headers(.init(headers: [":method": "GET", ":scheme": "http", ":authority": "model", ":path": "/"], endStream: true)))
        stream.flush()
        let request = try #require(try Self.written(client).first { $0.type == 1 })
        #expect(request.stream == 1 && request.flags & 0x1 != 0)

        var encoder = HPACKEncoder(allocator: ByteBufferAllocator(), useHuffmanEncoding: true)
        var input = ByteBuffer()
        Raw.frame(1, flags: 0x4, stream: 1, try Self.headers([(":status", "103"), ("link", "</a.css>; rel=preload")], encoder: &encoder), into: &input)
        Raw.frame(1, flags: 0x4, stream: 1, try Self.headers([(":status", "200"), ("content-type", "application/grpc")], encoder: &encoder), into: &input)
        Raw.frame(0, stream: 1, ByteBuffer(string: "ok"), into: &input)
        Raw.frame(1, flags: 0x5, stream: 1, try Self.headers([("grpc-status", "0")], encoder: &encoder), into: &input)
        try client.writeInbound(input)
        client.embeddedEventLoop.run()

        #expect(recorder.blocks.map { $0.0.first(name: ":status") ?? $0.0.first(name: "grpc-status") } == ["103", "200", "0"])
        #expect(recorder.blocks.first?.0.first(name: "link") == "</a.css>; rel=preload", "a Huffman-coded value")
        #expect(String(buffer: recorder.body) == "ok")
        #expect(recorder.blocks.last?.endStream == true)
        #expect(recorder.closed.map { $0 == nil } == true, "closed cleanly")
        #expect(try Self.written(client).allSatisfy { $0.type != 7 && $0.type != 3 }, "no GOAWAY, no RST_STREAM")
        _ = try? client.finish()
    }

    @Test("a PUSH_PROMISE (push is off) ends the connection with GOAWAY PROTOCOL_ERROR, and the stream with it")
    func pushPromiseRefused() throws {
        let (client, mux, _) = try Self.connect()
        let recorder = TunnelHTTP2HandlerTests.Recorder()
        let stream = mux.makeStream(recorder)
        stream.write(.headers(.init(headers: [":method": "GET", ":scheme": "http", ":authority": "model", ":path": "/"], endStream: true)))
        stream.flush()
        _ = try Self.written(client)

        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(2))   // the promised stream
        var block = try Self.headers([(":method", "GET"), (":scheme", "http"), (":authority", "model"), (":path", "/pushed")], encoder: &encoder)
        payload.writeBuffer(&block)
        var input = ByteBuffer()
        Raw.frame(5, flags: 0x4, stream: 1, payload, into: &input)
        _ = try? client.writeInbound(input)
        let goAway = try #require(try Self.written(client).first { $0.type == 7 })
        var goAwayPayload = goAway.payload
        _ = goAwayPayload.readInteger(as: UInt32.self)
        #expect(goAwayPayload.readInteger(as: UInt32.self) == 1, "PROTOCOL_ERROR")
        #expect(recorder.closed != nil, "the stream ends with the connection")
        #expect(recorder.blocks.isEmpty, "nothing of the pushed stream reached it")
        #expect(!client.isActive)
        _ = try? client.finish()
    }

    @Test("streams past the endpoint's SETTINGS_MAX_CONCURRENT_STREAMS wait and open in order as others close; one reset while waiting never reaches it; a GOAWAY refuses the rest, known never seen")
    func waitsForConcurrentStreams() throws {
        let (client, mux, _) = try Self.connect(settings: [(3, 1)])   // one stream at a time
        let recorders = (0..<4).map { _ in TunnelHTTP2HandlerTests.Recorder() }
        let streams = recorders.map { mux.makeStream($0) }
        for (index, stream) in streams.enumerated() {
            stream.write(.headers(.init(headers: [":method": "POST", ":scheme": "http", ":authority": "model", ":path": "/\(index)"])))
            stream.write(.data(.init(data: .byteBuffer(ByteBuffer(string: "body \(index)")), endStream: true)))
            stream.flush()
        }
        var frames = try Self.written(client)
        #expect(frames.filter { $0.type == 1 }.map(\.stream) == [1], "only the first opens")
        #expect(frames.filter { $0.type == 0 }.map(\.stream) == [1])
        #expect(recorders.allSatisfy { $0.closed == nil }, "the others wait")

        // The third is reset while it waits: nothing of it is ever written.
        streams[2].reset(.cancel)
        #expect(try Self.written(client).isEmpty)

        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var input = ByteBuffer()
        Raw.frame(1, flags: 0x5, stream: 1, try Self.headers([(":status", "200")], encoder: &encoder), into: &input)
        try client.writeInbound(input)
        frames = try Self.written(client)
        #expect(frames.filter { $0.type == 1 }.map(\.stream) == [3], "the second opens once the first closed")
        #expect(frames.filter { $0.type == 0 }.map { String(buffer: $0.payload) } == ["body 1"], "with what waited with it")
        #expect(recorders[0].closed.map { $0 == nil } == true)

        // A GOAWAY that serves stream 3: the fourth, still waiting, is refused; the peer never saw it.
        input.clear()
        var goAway = ByteBuffer()
        goAway.writeMultipleIntegers(UInt32(3), UInt32(0))
        Raw.frame(7, stream: 0, goAway, into: &input)
        try client.writeInbound(input)
        frames = try Self.written(client)
        #expect(!frames.contains { $0.type == 1 || $0.type == 0 }, "nothing of the fourth is written")
        #expect(recorders[3].closed != nil)
        #expect(streams[3].firstFrameNotSent, "it may be retried elsewhere, a POST too")
        #expect(recorders[1].closed == nil, "the second is still served")
        #expect(!streams[2].firstFrameNotSent && recorders[2].closed != nil)
        _ = try? client.finish()
    }
}
