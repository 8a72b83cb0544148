import NIOCore

/// Sits between `NIOHTTP2Handler` and the TLS handler on tunnel connections and joins the small writes made between
/// two flushes into one buffer, so that they leave as one TLS record.
///
/// `NIOSSLHandler` seals every write it is given as a record of its own, and swift-nio-http2 writes a DATA frame as
/// two: its 9-byte header and its payload. A token of a stream relayed through the tunnel (one DATA frame per flush)
/// was two records, each sealed by one gateway and opened by the other (about 4,500 instructions to seal a small
/// record with AES-GCM, as many to open it), and 22 bytes of record overhead each. A response's HEADERS frame and its
/// first DATA frame were three.
///
/// Writes are appended while the joined buffer stays within a record's largest payload (16 KiB); a larger write
/// passes as it is, after what was joined before it. A write's promise completes with the joined buffer's.
final class TLSRecordCoalescer: ChannelOutboundHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// The most a TLS record carries (RFC 8446, 5.1).
    static let recordPayload = 16 * 1024

    private var pending: ByteBuffer?
    private var pendingPromise: EventLoopPromise<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var buffer) = unwrapOutboundIn(data) else {
            writePending(context: context)
            context.write(data, promise: promise)
            return
        }
        if var joined = pending {
            if joined.readableBytes + buffer.readableBytes <= Self.recordPayload {
                pending = nil   // so that `joined` is the only reference and grows in place
                joined.writeBuffer(&buffer)
                pending = joined
                join(promise)
                return
            }
            writePending(context: context)
        }
        guard buffer.readableBytes < Self.recordPayload else {
            context.write(data, promise: promise)
            return
        }
        pending = buffer
        join(promise)
    }

    func flush(context: ChannelHandlerContext) {
        writePending(context: context)
        context.flush()
    }

    /// What was joined goes on before the close (unflushed, as it came): the TLS handler treats it as it would have.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        writePending(context: context)
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pending = nil
        pendingPromise?.fail(ChannelError.ioOnClosedChannel)
        pendingPromise = nil
    }

    private func join(_ promise: EventLoopPromise<Void>?) {
        guard let promise else { return }
        if let pendingPromise {
            pendingPromise.futureResult.cascade(to: promise)
        } else {
            pendingPromise = promise
        }
    }

    private func writePending(context: ChannelHandlerContext) {
        guard let buffer = pending else { return }
        let promise = pendingPromise
        pending = nil
        pendingPromise = nil
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
    }
}
