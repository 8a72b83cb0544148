import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

@testable import MeridianGateway

/// ``HTTP2StreamMux`` at its boundary: frames and the connection handler's events (swift-nio-http2's types) in, frames out.
@Suite("HTTP/2 stream mux")
struct HTTP2StreamMuxTests {
    /// Records what a stream tells its owner; pauses after each read when asked to.
    final class Recorder: HTTP2MuxStreamDelegate {
        var stream: HTTP2MuxStream?
        var received: [StreamFrame.Payload] = []
        var readCompletes = 0
        var closed: [String] = []
        var pauseAfterRead = false

        var dataBytes: Int {
            received.reduce(0) { total, payload in
                guard case .data(let data) = payload else { return total }
                return total + data.data.readableBytes
            }
        }

        func streamReceived(_ payload: StreamFrame.Payload) { received.append(payload) }
        func streamReadComplete() {
            readCompletes += 1
            if pauseAfterRead { stream?.pauseReading() }
        }
        var becameWritable = 0
        func streamBecameWritable() { becameWritable += 1 }
        func streamClosed(_ error: (any Error)?) { closed.append(error.map { "\($0)" } ?? "clean") }
    }

    static let window = 1000

    /// A server-side mux on an active embedded channel; each stream the peer opens gets a ``Recorder``.
    static func serverMux(maximumWindow: Int? = nil) throws -> (EmbeddedChannel, HTTP2StreamMux, () -> [Recorder]) {
        let channel = EmbeddedChannel()
        var recorders: [Recorder] = []
        let mux = HTTP2StreamMux(server: true, targetWindow: window, maximumWindow: maximumWindow, validatesHeaderBlocks: false) { stream in
            let recorder = Recorder()
            recorder.stream = stream
            stream.attach(recorder)
            recorders.append(recorder)
        }
        try channel.pipeline.syncOperations.addHandler(mux)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, mux, { recorders })
    }

    static func data(_ bytes: Int, end: Bool = false) -> HTTP2Frame.FramePayload {
        .data(.init(data: .byteBuffer(ByteBuffer(repeating: 0x61, count: bytes)), endStream: end))
    }

    /// The WINDOW_UPDATE frames written so far, as (stream, increment).
    static func windowUpdates(_ channel: EmbeddedChannel) throws -> [(Int, Int)] {
        channel.embeddedEventLoop.run()   // a flush outside a read waits for the end of the loop's tick
        var updates: [(Int, Int)] = []
        while let frame = try channel.readOutbound(as: StreamFrame.self) {
            if case .windowUpdate(let increment) = frame.payload { updates.append((Int(frame.streamID), increment)) }
        }
        return updates
    }

    @Test("a paused stream holds what arrives and opens no window; resumed, it delivers it and opens the window")
    func pausedStreamHoldsAndOpensWindowWhenConsumed() throws {
        let (channel, _, recorders) = try Self.serverMux()
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [":method": "POST", ":path": "/"]))))
        channel.pipeline.fireChannelReadComplete()
        let recorder = try #require(recorders().first)
        #expect(recorder.received.count == 1 && recorder.readCompletes == 1)

        recorder.stream?.pauseReading()
        for _ in 0..<3 { try channel.writeInbound(HTTP2Frame(streamID: 1, payload: Self.data(200))) }
        // NIOHTTP2Handler reports the stream's window after the frames: 1000 - 600.
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: 1, inboundWindowSize: 400, outboundWindowSize: nil))
        channel.pipeline.fireChannelReadComplete()
        #expect(recorder.received.count == 1, "a paused stream delivers nothing")
        #expect(recorder.readCompletes == 1)
        #expect(try Self.windowUpdates(channel).isEmpty, "held bytes keep the window closed")

        recorder.stream?.resumeReading()
        #expect(recorder.dataBytes == 600)
        #expect(recorder.readCompletes == 2)
        let updates = try Self.windowUpdates(channel)
        #expect(updates.count == 1)
        #expect(updates.first.map { $0 == (1, 600) } == true, "\(updates)")
    }

    @Test("a stream the peer ends cleanly while paused closes only after delivering what it held")
    func cleanCloseWaitsForHeldPayloads() throws {
        let (channel, _, recorders) = try Self.serverMux()
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [":method": "POST", ":path": "/"]))))
        let recorder = try #require(recorders().first)
        recorder.stream?.pauseReading()
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: Self.data(100, end: true)))
        channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: 1, reason: nil))
        #expect(recorder.closed.isEmpty, "closed before its data was delivered")

        recorder.stream?.resumeReading()
        #expect(recorder.dataBytes == 100)
        #expect(recorder.closed == ["clean"])
    }

    @Test("a reset closes the stream at once with the error, dropping what it held; other streams go on")
    func resetDropsHeldAndSparesOthers() throws {
        let (channel, _, recorders) = try Self.serverMux()
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [":method": "POST", ":path": "/"]))))
        try channel.writeInbound(HTTP2Frame(streamID: 3, payload: .headers(.init(headers: [":method": "POST", ":path": "/"]))))
        let first = recorders()[0], second = recorders()[1]
        first.stream?.pauseReading()
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: Self.data(100)))
        channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: 1, reason: .cancel))
        #expect(first.closed.count == 1 && first.closed.first != "clean")
        #expect(first.dataBytes == 0)

        // A stream error on stream 3 (the peer sent something invalid on it) closes stream 3 only, and the
        // connection is not told.
        channel.pipeline.fireErrorCaught(NIOHTTP2Errors.streamError(streamID: 3, baseError: NIOHTTP2Errors.flowControlViolation()))
        #expect(second.closed.count == 1)
        #expect(channel.isActive)
        try channel.writeInbound(HTTP2Frame(streamID: 5, payload: .headers(.init(headers: [":method": "GET", ":path": "/"]))))
        #expect(recorders().count == 3, "new streams are still accepted")
    }

    @Test("a stream stops being writable with 256 KiB unsent and is again once 64 KiB or less are left")
    func writabilityFollowsUnsentBytes() throws {
        let (channel, mux, recorders) = try Self.serverMux()
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [":method": "GET", ":path": "/"]))))
        let recorder = try #require(recorders().first)
        let stream = try #require(recorder.stream)
        let chunk = 100 * 1024
        for _ in 0..<3 { stream.write(.data(.init(data: .byteBuffer(ByteBuffer(repeating: 0x61, count: chunk))))) }
        #expect(!stream.isWritable, "300 KiB written, none sent")

        // The connection's handler tells the mux each DATA frame that leaves.
        mux.dataWritten(1, chunk)
        mux.dataWritten(1, chunk)
        #expect(!stream.isWritable && recorder.becameWritable == 0, "100 KiB still unsent")
        mux.dataWritten(1, chunk)
        #expect(stream.isWritable && recorder.becameWritable == 1)
    }

    @Test("what a stream writes and flushes during the connection's read leaves once, when the read completes")
    func flushesDuringReadWaitForReadComplete() throws {
        let (channel, _, recorders) = try Self.serverMux()
        let headers = HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [":method": "GET", ":path": "/"], endStream: true)))
        channel.pipeline.fireChannelRead(headers)
        let recorder = try #require(recorders().first)
        recorder.stream?.write(.headers(.init(headers: [":status": "200"], endStream: true)))
        recorder.stream?.flush()
        #expect(try channel.readOutbound(as: StreamFrame.self) == nil, "flushed in the middle of the read")

        channel.pipeline.fireChannelReadComplete()
        let answer = try #require(try channel.readOutbound(as: StreamFrame.self))
        #expect(answer.streamID == 1)

        // Outside a read, flushes wait for the end of the loop's tick, and what several streams wrote leaves at once.
        channel.pipeline.fireChannelRead(HTTP2Frame(streamID: 3, payload: headers.payload))
        channel.pipeline.fireChannelRead(HTTP2Frame(streamID: 5, payload: headers.payload))
        channel.pipeline.fireChannelReadComplete()
        recorders()[1].stream?.write(.headers(.init(headers: [":status": "204"], endStream: true)))
        recorders()[1].stream?.flush()
        recorders()[2].stream?.write(.headers(.init(headers: [":status": "204"], endStream: true)))
        recorders()[2].stream?.flush()
        #expect(try channel.readOutbound(as: StreamFrame.self) == nil, "flushed before the end of the tick")
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: StreamFrame.self)?.streamID == 3)
        #expect(try channel.readOutbound(as: StreamFrame.self)?.streamID == 5)

        // A read that starts before the tick ends takes the scheduled flush with it; a close flushes first.
        channel.pipeline.fireChannelRead(HTTP2Frame(streamID: 7, payload: headers.payload))
        channel.pipeline.fireChannelReadComplete()
        recorders()[3].stream?.write(.headers(.init(headers: [":status": "200"], endStream: false)))
        recorders()[3].stream?.flush()
        channel.pipeline.fireChannelReadComplete()
        #expect(try channel.readOutbound(as: StreamFrame.self)?.streamID == 7, "flushed with the read's completion")
        recorders()[3].stream?.write(.data(.init(data: .byteBuffer(ByteBuffer(string: "last")), endStream: true)))
        recorders()[3].stream?.flush()
        channel.close(promise: nil)
        #expect(try channel.readOutbound(as: StreamFrame.self)?.streamID == 7, "flushed before the close")
    }

    @Test("a close in the middle of the connection's read flushes what the streams wrote during it first")
    func closeDuringReadFlushes() throws {
        let (channel, _, recorders) = try Self.serverMux()
        channel.pipeline.fireChannelRead(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [":method": "GET", ":path": "/"]))))
        recorders().first?.stream?.write(.headers(.init(headers: [":status": "200"], endStream: true)))
        recorders().first?.stream?.flush()
        #expect(try channel.readOutbound(as: StreamFrame.self) == nil, "flushed in the middle of the read")
        channel.close(promise: nil)
        #expect(try channel.readOutbound(as: StreamFrame.self)?.streamID == 1, "flushed before the close")
    }

    @Test("on a tunnel, 64 KiB of DATA send a PING; its acknowledgement grows every window and goes no further; a probe's goes on")
    func adaptiveWindowGrowsFromAPingSample() throws {
        let (channel, mux, _) = try Self.serverMux(maximumWindow: 100 * Self.window)
        var grown: [Int] = []
        mux.windowGrown = { grown.append($0) }
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [":method": "POST", ":path": "/"]))))
        channel.pipeline.fireChannelReadComplete()

        // 64 KiB of DATA start a sample: the PING leaves with the read.
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: Self.data(AdaptiveWindow.sampleBytesThreshold)))
        channel.pipeline.fireChannelReadComplete()
        let ping = try #require(try channel.readOutbound(as: StreamFrame.self))
        #expect(ping.streamID == .rootStream)
        guard case .ping(let data, ack: false) = ping.payload else {
            Issue.record("expected a PING, got \(ping.payload)")
            return
        }
        #expect(data == AdaptiveWindow.pingData)

        // The window (1000 bytes) arrives whole before the acknowledgement: it limited the sender.
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: Self.data(Self.window)))
        try channel.writeInbound(HTTP2Frame(streamID: .rootStream, payload: .ping(AdaptiveWindow.pingData, ack: true)))
        #expect(grown == [2 * Self.window])
        #expect(try channel.readInbound(as: HTTP2Frame.self) == nil, "the sample's acknowledgement is the mux's own")
        let probe = HTTP2PingData(withInteger: 42)
        try channel.writeInbound(HTTP2Frame(streamID: .rootStream, payload: .ping(probe, ack: true)))
        let passedOn = try channel.readInbound(as: HTTP2Frame.self)
        guard case .ping(probe, ack: true) = passedOn?.payload else {
            Issue.record("a health probe's acknowledgement must go on: \(String(describing: passedOn))")
            return
        }
        channel.pipeline.fireChannelReadComplete()

        // The next window reports open the stream and the connection to the new target.
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: 1, inboundWindowSize: 0, outboundWindowSize: nil))
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: .rootStream, inboundWindowSize: 0, outboundWindowSize: nil))
        let updates = try Self.windowUpdates(channel)
        #expect(updates.count == 2 && updates.allSatisfy { $0.1 == 2 * Self.window }, "\(updates)")
    }

    @Test("a mux started where an earlier connection grew (a reconnection) opens every window to it, up to the maximum, without counting a growth")
    func startGrownOpensWindowsToTheRememberedSize() throws {
        let (channel, mux, _) = try Self.serverMux(maximumWindow: 8 * Self.window)
        var grown: [Int] = []
        mux.windowGrown = { grown.append($0) }
        mux.startGrown(to: 4 * Self.window)
        #expect(mux.targetWindow == 4 * Self.window)
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [":method": "POST", ":path": "/"]))))
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: Self.data(Self.window)))
        channel.pipeline.fireChannelReadComplete()
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: 1, inboundWindowSize: 0, outboundWindowSize: nil))
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: .rootStream, inboundWindowSize: 0, outboundWindowSize: nil))
        let updates = try Self.windowUpdates(channel)
        #expect(updates.count == 2 && updates.allSatisfy { $0.1 == 4 * Self.window }, "\(updates)")
        #expect(grown.isEmpty)
        mux.startGrown(to: 100 * Self.window)
        #expect(mux.targetWindow == 8 * Self.window, "no further than --http2-window-max")

        let (_, fixed, _) = try Self.serverMux()
        fixed.startGrown(to: 4 * Self.window)
        #expect(fixed.targetWindow == Self.window, "a fixed window stays fixed")
    }

    @Test("without a larger maximum (h2c, or --http2-window-max at most --http2-window) 64 KiB of DATA send no PING")
    func fixedWindowSendsNoPing() throws {
        let (channel, _, _) = try Self.serverMux()
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [":method": "POST", ":path": "/"]))))
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: Self.data(AdaptiveWindow.sampleBytesThreshold)))
        channel.pipeline.fireChannelReadComplete()
        #expect(try channel.readOutbound(as: StreamFrame.self) == nil)
    }

    @Test("a window report that leaves out a WINDOW_UPDATE not sent yet opens nothing more; once it is sent, reports count it")
    func staleReportsDoNotStackUpdates() throws {
        let (channel, mux, _) = try Self.serverMux()
        try channel.writeInbound(HTTP2Frame(streamID: 1, payload: .headers(.init(headers: [":method": "POST", ":path": "/"]))))
        let report = { (size: Int) in
            channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2WindowUpdatedEvent(streamID: 1, inboundWindowSize: size, outboundWindowSize: nil))
        }
        report(400)   // 600 consumed: the window is opened by 600
        #expect(try Self.windowUpdates(channel).map(\.1) == [600])
        // A connection handler may hold that WINDOW_UPDATE (NIOHTTP2Handler does while the connection is not writable)
        // and report smaller windows as DATA goes on arriving: each used to open the window by 600 and more again.
        report(350)
        report(300)
        #expect(try Self.windowUpdates(channel).isEmpty, "with the 600 on their way, 900 are open")
        // It leaves: from now on the reports include it (300 + 600).
        mux.windowUpdateWritten(1, 600)
        report(900)
        #expect(try Self.windowUpdates(channel).isEmpty)
        report(700)
        #expect(try Self.windowUpdates(channel).map(\.1) == [300], "1000 - 700")
    }
}
