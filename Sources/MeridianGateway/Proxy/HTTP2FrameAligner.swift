import NIOCore

/// Sits just before `NIOHTTP2Handler` on every gateway HTTP/2 connection and passes the bytes on unchanged, except
/// that no read it passes on ends right after the header of a DATA frame with a payload.
///
/// swift-nio-http2's frame decoder keeps one accumulation buffer per connection. It starts that buffer over only when
/// a read leaves it empty at a frame boundary, or ends inside a DATA payload (the payload goes out as a frame of its
/// own). A read that ends just after a DATA frame's header leaves it waiting for the payload, with an empty buffer
/// that is not started over: the next read is appended behind everything read before. A sender whose writes end
/// with the next frame's header keeps it there: a 1 GiB upload through the tunnel grew west's buffer, doubling, to
/// 16 MiB (the reader index half way), and a buffer keeps its capacity for the connection's life.
///
/// Held back here, such a header goes on with the first byte of the next read, and the rest of that read follows:
/// the decoder then gets part of the payload with the header, hands it on, and starts its buffer over. Padded DATA
/// frames (which the gateways never send) pass as they are.
final class HTTP2FrameAligner: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private static let headerLength = 9
    private static let dataType: UInt8 = 0
    private static let paddedFlag: UInt8 = 0x08

    /// Bytes of the client connection preface (server side) still to pass before the first frame.
    private var prefaceLeft: Int
    /// The current frame's header as far as it has arrived.
    private var header: [UInt8] = []
    /// Bytes of the current frame's payload still to come (once its header is complete).
    private var payloadLeft = 0
    /// The header (or its last part) of a DATA frame whose payload has not started: it goes on with the next read.
    private var held: ByteBuffer?

    /// - Parameter server: the connection's server end, where the client's 24-byte preface comes before any frame.
    init(server: Bool) {
        self.prefaceLeft = server ? 24 : 0
        header.reserveCapacity(Self.headerLength)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard buffer.readableBytes > 0 else { return }
        if var held {
            // The held header with the first payload byte: the decoder hands that byte on and starts over.
            self.held = nil
            var first = buffer.readSlice(length: 1)!
            held.writeBuffer(&first)
            payloadLeft -= 1
            context.fireChannelRead(wrapInboundOut(held))
            guard buffer.readableBytes > 0 else { return }
        }
        if let headerStart = walk(buffer) {
            // The read ends right after a DATA frame's header: keep that header's bytes for the next read.
            held = ByteBuffer(bytes: buffer.readableBytesView[headerStart...])
            guard headerStart > buffer.readerIndex else { return }
            buffer = buffer.getSlice(at: buffer.readerIndex, length: headerStart - buffer.readerIndex)!
        }
        context.fireChannelRead(wrapInboundOut(buffer))
    }

    /// Follows the frames through `buffer`; returns where the last frame's header starts in it when the buffer ends
    /// right after the header of an unpadded DATA frame with a payload.
    private func walk(_ buffer: ByteBuffer) -> Int? {
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        if prefaceLeft > 0 {
            let count = min(prefaceLeft, end - index)
            prefaceLeft -= count
            index += count
        }
        var frameStart = index
        while index < end {
            if payloadLeft > 0 {
                let count = min(payloadLeft, end - index)
                payloadLeft -= count
                index += count
                continue
            }
            let lengthAndType: UInt32
            let flags: UInt8
            if header.isEmpty && end - index >= Self.headerLength {
                // The usual case: the whole header in this read.
                frameStart = index
                lengthAndType = buffer.getInteger(at: index)!
                flags = buffer.getInteger(at: index + 4)!
                index += Self.headerLength
            } else {
                if header.isEmpty { frameStart = index }
                let count = min(Self.headerLength - header.count, end - index)
                header.append(contentsOf: buffer.readableBytesView[index..<(index + count)])
                index += count
                guard header.count == Self.headerLength else { break }
                lengthAndType = UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3])
                flags = header[4]
                header.removeAll(keepingCapacity: true)
            }
            payloadLeft = Int(lengthAndType >> 8)
            let isData = UInt8(truncatingIfNeeded: lengthAndType) == Self.dataType && flags & Self.paddedFlag == 0
            if index == end && isData && payloadLeft > 0 { return frameStart }
        }
        return nil
    }
}
