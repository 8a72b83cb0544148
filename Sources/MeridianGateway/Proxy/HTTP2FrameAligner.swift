import NIOCore

/// Sits just before `NIOHTTP2Handler` on every gateway HTTP/2 connection and passes the bytes on unchanged, except
/// that no read it passes on ends where swift-nio-http2's frame decoder would wait without starting its buffer over.
///
/// The decoder keeps one accumulation buffer per connection. It starts that buffer over only when a read leaves it
/// empty at a frame boundary, or ends inside a DATA frame's data (the data goes out as a frame of its own). Anywhere
/// else, the next read is appended behind everything read before, and a sender whose reads keep ending there grows
/// the buffer without bound (a buffer keeps its capacity for the connection's life):
/// - right after the header of a DATA frame with a payload: a 1 GiB upload through the tunnel grew west's buffer,
///   doubling, to 16 MiB (every read of east's writes ended there);
/// - for a padded DATA frame, also right after its pad-length byte (before the data), and from the end of its data
///   to the end of its padding (the gateways never pad, but a local h2c client may);
/// - inside a frame header, and inside the payload of a frame that is not DATA.
///
/// When a read ends at such a point, the bytes since the last point where it could have ended are held back: at most
/// a frame (16 KiB and its header; a larger frame the decoder refuses at its header, so that is a point where a read
/// may end), or a padded DATA frame's header, pad length, last data byte and padding. They go on with as many bytes
/// of the next read as take them past the point (one, for an unpadded DATA frame's header), and the rest of that read
/// follows on its own, so a large read is not copied.
final class HTTP2FrameAligner: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var walker: Walker
    /// Bytes held back: they end where the decoder would wait with an empty buffer.
    private var held: ByteBuffer?

    /// - Parameter server: the connection's server end, where the client's 24-byte preface comes before any frame.
    init(server: Bool) {
        walker = Walker(prefaceLength: server ? 24 : 0)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard buffer.readableBytes > 0 else { return }
        if var held {
            // The held bytes with as few of this read's as take them to a point where a read may end.
            self.held = nil
            guard let count = walker.walk(buffer, stoppingAtFirstSafeEnd: true).safeEnd else {
                held.writeBuffer(&buffer)
                self.held = held
                return
            }
            var completing = buffer.readSlice(length: count)!
            held.writeBuffer(&completing)
            context.fireChannelRead(wrapInboundOut(held))
            guard buffer.readableBytes > 0 else { return }
        }
        let walked = walker.walk(buffer, stoppingAtFirstSafeEnd: false)
        if walked.endIsSafe {
            context.fireChannelRead(wrapInboundOut(buffer))
            return
        }
        // Pass the read on up to the last point where it may end; hold the rest.
        let safeEnd = walked.safeEnd ?? 0
        held = ByteBuffer(bytes: buffer.readableBytesView.dropFirst(safeEnd))
        guard safeEnd > 0 else { return }
        context.fireChannelRead(wrapInboundOut(buffer.getSlice(at: buffer.readerIndex, length: safeEnd)!))
    }

    /// Follows the frames through the bytes, and tells whether a read may end at the point reached.
    struct Walker {
        enum Position: Equatable {
            /// In the client's connection preface (bytes still to come).
            case preface(left: Int)
            /// In a frame header (its bytes so far); none at a frame boundary.
            case header([UInt8])
            /// In the payload of a frame other than DATA (bytes still to come); `refused` when the frame is larger than
            /// the decoder accepts: it refuses the connection at the header, so no read needs holding for it.
            case otherPayload(left: Int, refused: Bool)
            /// In an unpadded DATA frame's data; `atStart` right after the header.
            case data(left: Int, atStart: Bool)
            /// Right after a padded DATA frame's header: the pad-length byte comes next (the payload's length).
            case padLength(payload: Int)
            /// In a padded DATA frame's data: how much has come and is still to come, and the padding after it.
            case paddedData(seen: Int, left: Int, padding: Int)
            /// In a padded DATA frame's padding (bytes still to come).
            case padding(left: Int)
        }

        private(set) var position: Position

        init(prefaceLength: Int) {
            position = prefaceLength > 0 ? .preface(left: prefaceLength) : .header([])
        }

        /// Whether a read may end here: not where the decoder would wait with an empty buffer that it does not start
        /// over (see the type's comment).
        var isSafeEnd: Bool {
            switch position {
            case .preface: return true
            case .header(let bytes): return bytes.isEmpty   // a frame boundary
            case .otherPayload(_, let refused): return refused
            case .data(_, let atStart): return !atStart
            case .paddedData(let seen, _, _): return seen > 0
            case .padLength, .padding: return false
            }
        }

        /// Walks the readable bytes of `buffer`. Returns whether the walk ended at a safe end and the last safe end
        /// it passed (bytes from the buffer's reader index; zero for its start when the walk began at one), or, when
        /// `stoppingAtFirstSafeEnd`, stops at the first safe end after the start and returns it.
        mutating func walk(_ buffer: ByteBuffer, stoppingAtFirstSafeEnd: Bool) -> (endIsSafe: Bool, safeEnd: Int?) {
            let start = buffer.readerIndex
            let end = buffer.writerIndex
            var index = start
            var safeEnd: Int?
            while true {
                if isSafeEnd {
                    if stoppingAtFirstSafeEnd && index > start { return (true, index - start) }
                    safeEnd = index - start
                }
                guard index < end else { break }
                let available = end - index
                switch position {
                case .preface(let left):
                    let count = min(left, available)
                    index += count
                    position = count == left ? .header([]) : .preface(left: left - count)
                case .header(var bytes):
                    if bytes.isEmpty && available >= 9 {
                        // The usual case: the whole header in this read.
                        let lengthAndType: UInt32 = buffer.getInteger(at: index)!
                        let flags: UInt8 = buffer.getInteger(at: index + 4)!
                        index += 9
                        position = Self.afterHeader(length: Int(lengthAndType >> 8), type: UInt8(truncatingIfNeeded: lengthAndType), flags: flags)
                    } else {
                        let count = min(9 - bytes.count, available)
                        bytes.append(contentsOf: buffer.readableBytesView[index..<(index + count)])
                        index += count
                        if bytes.count == 9 {
                            let length = Int(bytes[0]) << 16 | Int(bytes[1]) << 8 | Int(bytes[2])
                            position = Self.afterHeader(length: length, type: bytes[3], flags: bytes[4])
                        } else {
                            position = .header(bytes)
                        }
                    }
                case .otherPayload(let left, let refused):
                    let count = min(left, available)
                    index += count
                    position = count == left ? .header([]) : .otherPayload(left: left - count, refused: refused)
                case .data(let left, let atStart):
                    // From the start, one byte takes the walk inside the data (a safe end).
                    let count = atStart ? 1 : min(left, available)
                    index += count
                    position = count == left ? .header([]) : .data(left: left - count, atStart: false)
                case .padLength(let payload):
                    let padding = Int(buffer.getInteger(at: index, as: UInt8.self)!)
                    index += 1
                    let data = payload - 1 - padding
                    if data < 0 {
                        // Padding longer than the frame: the decoder refuses it (PROTOCOL_ERROR); walk on as any payload.
                        position = payload == 1 ? .header([]) : .otherPayload(left: payload - 1, refused: false)
                    } else if data > 0 {
                        position = .paddedData(seen: 0, left: data, padding: padding)
                    } else {
                        position = padding > 0 ? .padding(left: padding) : .header([])
                    }
                case .paddedData(let seen, let left, let padding):
                    // Byte by byte where the safety changes: out of the start, and onto the data's last byte's end.
                    let count = seen == 0 || left == 1 ? 1 : min(left - 1, available)
                    index += count
                    if count < left {
                        position = .paddedData(seen: seen + count, left: left - count, padding: padding)
                    } else {
                        position = padding > 0 ? .padding(left: padding) : .header([])
                    }
                case .padding(let left):
                    let count = min(left, available)
                    index += count
                    position = count == left ? .header([]) : .padding(left: left - count)
                }
            }
            return (isSafeEnd, safeEnd)
        }

        private static let dataType: UInt8 = 0
        private static let paddedFlag: UInt8 = 0x08

        private static func afterHeader(length: Int, type: UInt8, flags: UInt8) -> Position {
            guard length > 0 else { return .header([]) }
            guard type == dataType else {
                return .otherPayload(left: length, refused: length > HTTP2Tuning.maxFrameSize)
            }
            return flags & paddedFlag == 0 ? .data(left: length, atStart: true) : .padLength(payload: length)
        }
    }
}
