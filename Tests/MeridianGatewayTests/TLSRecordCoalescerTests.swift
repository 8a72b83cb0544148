import NIOCore
import NIOEmbedded
import Testing

@testable import MeridianGateway

/// ``TLSRecordCoalescer``: the writes between two flushes leave as one buffer (one TLS record) while they fit in a
/// record, in order, with their promises.
@Suite("TLS record coalescer")
struct TLSRecordCoalescerTests {
    static func bytes(_ count: Int, _ value: UInt8) -> ByteBuffer { ByteBuffer(repeating: value, count: count) }

    static func written(_ channel: EmbeddedChannel) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let buffer = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let bytes) = buffer else { Issue.record("a file region"); continue }
            out.append(Array(bytes.readableBytesView))
        }
        return out
    }

    @Test("a DATA frame's header and payload, and the frames after them, leave as one buffer at the flush")
    func joinsUntilFlush() throws {
        let channel = EmbeddedChannel(handler: TLSRecordCoalescer())
        channel.write(IOData.byteBuffer(Self.bytes(9, 1)), promise: nil)
        channel.write(IOData.byteBuffer(Self.bytes(200, 2)), promise: nil)
        channel.write(IOData.byteBuffer(Self.bytes(13, 3)), promise: nil)
        #expect(try Self.written(channel).isEmpty, "nothing leaves before the flush")
        channel.flush()
        #expect(try Self.written(channel) == [[UInt8](repeating: 1, count: 9) + [UInt8](repeating: 2, count: 200) + [UInt8](repeating: 3, count: 13)])
        channel.write(IOData.byteBuffer(Self.bytes(4, 4)), promise: nil)
        channel.flush()
        #expect(try Self.written(channel) == [[4, 4, 4, 4]])
        _ = try channel.finish()
    }

    @Test("no buffer passes a record's payload: what would is written first; a large write passes as it is, in order")
    func recordSizedBuffers() throws {
        let channel = EmbeddedChannel(handler: TLSRecordCoalescer())
        let record = TLSRecordCoalescer.recordPayload
        channel.write(IOData.byteBuffer(Self.bytes(9, 1)), promise: nil)
        channel.write(IOData.byteBuffer(Self.bytes(record - 9, 2)), promise: nil)   // fills it exactly
        channel.write(IOData.byteBuffer(Self.bytes(9, 3)), promise: nil)
        channel.write(IOData.byteBuffer(Self.bytes(record + 1, 4)), promise: nil)    // too large: on its own
        channel.write(IOData.byteBuffer(Self.bytes(5, 5)), promise: nil)
        channel.flush()
        let out = try Self.written(channel)
        #expect(out.map(\.count) == [record, 9, record + 1, 5])
        #expect(out.flatMap { $0 } == [UInt8](repeating: 1, count: 9) + [UInt8](repeating: 2, count: record - 9)
            + [UInt8](repeating: 3, count: 9) + [UInt8](repeating: 4, count: record + 1) + [UInt8](repeating: 5, count: 5))
        _ = try channel.finish()
    }

    /// Records the writes and the close that reach it, flushed or not.
    final class Recorder: ChannelOutboundHandler {
        typealias OutboundIn = IOData
        var events: [String] = []

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if case .byteBuffer(let buffer) = unwrapOutboundIn(data) { events.append("write \(buffer.readableBytes)") }
            context.write(data, promise: promise)
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            events.append("close")
            context.close(mode: mode, promise: promise)
        }
    }

    @Test("the promises of joined writes complete when the joined buffer is written; what is joined at a close goes on before it")
    func promisesAndClose() throws {
        let recorder = Recorder()
        let channel = EmbeddedChannel(handlers: [recorder, TLSRecordCoalescer()])
        let first = channel.eventLoop.makePromise(of: Void.self)
        let second = channel.eventLoop.makePromise(of: Void.self)
        channel.write(IOData.byteBuffer(Self.bytes(9, 1)), promise: first)
        channel.write(IOData.byteBuffer(Self.bytes(20, 2)), promise: nil)
        channel.write(IOData.byteBuffer(Self.bytes(30, 3)), promise: second)
        channel.flush()
        #expect(try Self.written(channel).map(\.count) == [59])
        try first.futureResult.wait()
        try second.futureResult.wait()

        channel.write(IOData.byteBuffer(Self.bytes(9, 1)), promise: nil)
        channel.write(IOData.byteBuffer(Self.bytes(7, 1)), promise: nil)
        _ = try? channel.finish()
        #expect(recorder.events == ["write 59", "write 16", "close"])
    }
}
