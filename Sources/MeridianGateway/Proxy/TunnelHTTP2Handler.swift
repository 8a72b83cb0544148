import NIOCore
import NIOHPACK
import NIOHTTP2

/// A connection or stream error of a tunnel connection (``TunnelHTTP2Handler``).
struct TunnelHTTP2Error: Error, CustomStringConvertible {
    var code: HTTP2ErrorCode
    var message: String
    var description: String { "HTTP/2 \(code): \(message)" }
}

/// HTTP/2 (RFC 9113) for tunnel connections, in place of swift-nio-http2's `NIOHTTP2Handler`: the frame layer, HPACK,
/// stream states and both directions' flow control, between TLS and the ``HTTP2StreamMux``, which it tells each
/// stream's frames, its close and its inbound windows by a call.
///
/// Why: both ends of a tunnel are gateways, and `NIOHTTP2Handler` was about 30 % of the pair's instructions per
/// request (its connection state machine copies its state per frame, and its HPACK encoder Huffman-codes every literal
/// and searches its tables by hashing names byte by byte). Here a frame is parsed in place from the read, a stream is
/// a small object in one dictionary, and the frames written between two flushes leave as one buffer, one TLS record
/// (`NIOHTTP2Handler` wrote a DATA frame's header and payload as two writes, sealed as two records). It speaks plain HTTP/2 and interoperates with any peer
/// (gateways of an earlier version use `NIOHTTP2Handler`):
/// - **HPACK**: ``TunnelHPACKDecoder`` (its table holds strings, so an indexed field makes none; Huffman-coded
///   literals, from gateways of earlier versions, are decoded by NIOHPACK), and ``TunnelHPACKEncoder`` (literals are
///   not Huffman-coded; a repeated field is one index either way).
/// - **Stream frames, closes and inbound windows go straight to the mux** (``HTTP2StreamMux/receive(_:_:)``,
///   ``HTTP2StreamMux/streamClosed(_:reason:)``, ``HTTP2StreamMux/inboundWindow(_:_:)``), not through the pipeline
///   as `NIOHTTP2Handler`'s events (two per stream, each through every handler after it); SETTINGS, PING and GOAWAY
///   frames do, for the connection's observers.
/// - **Flow control, outbound**: DATA waits, per stream and in order (with the trailers behind it), for the stream's
///   and the connection's send windows; the ``HTTP2StreamMux`` is told the bytes that left (its watermarks).
/// - **Flow control, inbound**: each DATA frame is counted against the stream's and the connection's windows (a peer
///   that overruns one gets `FLOW_CONTROL_ERROR`); the mux decides when to open them again (WINDOW_UPDATE).
/// - **Limits**: frames up to 16 KiB, header lists up to the configured size, a header block of at most twice that
///   across CONTINUATION frames, at most 4,096 concurrent streams from the peer (more are refused with
///   `REFUSED_STREAM`, as are streams above the last one of a GOAWAY this end sent). This end's streams past the
///   peer's limit wait, with what is written to them, and open in order as others close.
/// - **A peer that does not read**: answers (PING and SETTINGS acknowledgements, resets) written while the
///   connection cannot take writes are counted; past 10,000 the connection ends with `ENHANCE_YOUR_CALM`, as
///   swift-nio-http2's `maximumBufferedControlFrames` does.
/// - **Errors**: a stream error resets the stream (the mux sees it close); a connection error sends GOAWAY with its
///   code, reports the error down the pipeline and closes the connection.
/// - **Floods**: more than 64 CONTINUATION frames in one block, or 100 empty DATA frames in a row, end the connection
///   with `ENHANCE_YOUR_CALM`; a request's second header block must end its stream (trailers).
///
/// It also serves the gateway's other HTTP/2 connections (``HTTP2Tuning``): those of local h2c clients, and those to
/// local h2c endpoints (gRPC model servers), whose HTTP/2 may be anyone's, with ``PeerLimits``: at most 200
/// RST_STREAM frames per 30 s, as `NIOHTTP2Handler` allows (the "rapid reset" guard, which the tunnel does without: it
/// carries many clients' cancellations from a verified gateway). Their header blocks are validated by the streams'
/// owners (``HTTP2MuxStream/validate(_:as:)``), as they were behind `NIOHTTP2Handler`, whose validation was off.
final class TunnelHTTP2Handler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = StreamFrame
    typealias OutboundOut = IOData

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let defaultWindow = 65_535
    static let largestWindow = Int(Int32.max)
    static let maxFrameSize = 1 << 14
    static let maxConcurrentStreams = 4096
    /// Frames written between two flushes are joined in one buffer up to a TLS record's largest payload; a DATA
    /// payload that would take it past that is written as it is, after what was joined before it.
    static let joinedWrite = 16 * 1024

    /// A class, so that a frame's handling looks its stream up once (or not at all: ``stream(_:)`` keeps the last).
    private final class Stream {
        var sendWindow: Int
        var receiveWindow: Int
        /// This end may still send (no END_STREAM written).
        var localOpen = true
        /// The peer may still send.
        var remoteOpen = true
        /// Frames waiting for the send windows, in order: DATA, and whatever the owner wrote after it.
        var queued: CircularBuffer<Queued>?
        /// In ``TunnelHTTP2Handler/blocked`` (at most once).
        var inBlockedList = false
        /// The peer sent this stream's first header block (a server's next one must end the stream: trailers).
        var headersReceived = false

        init(sendWindow: Int, receiveWindow: Int) {
            self.sendWindow = sendWindow
            self.receiveWindow = receiveWindow
        }
    }

    private struct Queued {
        var payload: StreamFrame.Payload
        var promise: EventLoopPromise<Void>?
    }

    /// A header block still waiting for its CONTINUATION frames.
    private struct PendingBlock {
        var streamID: HTTP2StreamID
        var endStream: Bool
        var block: ByteBuffer
        var continuations = 0
    }

    /// Limits for a peer that is not a verified gateway (a local h2c client or endpoint), as `NIOHTTP2Handler`'s defaults.
    struct PeerLimits {
        /// RST_STREAM frames received, at most `resets` per `resetWindow` (the "rapid reset" guard, CVE-2023-44487).
        var resets = 200
        var resetWindow = TimeAmount.seconds(30)

        static let nio = PeerLimits()
    }

    /// CONTINUATION frames of one header block (the block's size is bounded too; empty ones are not, CVE-2024-27316).
    static let maxContinuationFrames = 64
    /// Empty DATA frames in a row that do not end their stream (CVE-2019-9518).
    static let maxEmptyDataFrames = 100

    private let isServer: Bool
    private let settings: [HTTP2Setting]
    private let localInitialWindow: Int
    private let maxHeaderBytes: Int
    private let limits: PeerLimits?
    /// The reset-rate guard's budget (``PeerLimits``): refilled at `resets` per `resetWindow`.
    private var resetBudget: Double = 0
    private var resetBudgetTime = NIODeadline.uptimeNanoseconds(0)
    private var emptyDataFrames = 0
    /// Told the DATA bytes and WINDOW_UPDATE increments that were written.
    private let mux: HTTP2StreamMux
    /// This handler's context, for the frames the mux writes straight to it (``write(_:promise:)``).
    private var context: ChannelHandlerContext?

    private var allocator = ByteBufferAllocator()
    private var encoder = TunnelHPACKEncoder()
    private var decoder: TunnelHPACKDecoder
    private var streams = StreamTable<Stream>()
    /// The stream looked up last: most frames are for the same stream as the one before.
    private var lastLookedUp: (id: HTTP2StreamID, stream: Stream)?
    /// Streams with DATA waiting for a send window, each once, in the order they get the connection's window.
    private var blocked: [HTTP2StreamID] = []
    private var openInbound = 0
    private var openOutbound = 0
    private var lastInboundStreamID: HTTP2StreamID = .rootStream
    private var lastOutboundStreamID: HTTP2StreamID = .rootStream
    private var remoteInitialWindow = defaultWindow
    private var remoteMaxFrameSize = maxFrameSize
    private var remoteMaxConcurrentStreams = Int.max
    private var connectionSendWindow = defaultWindow
    private var connectionReceiveWindow = defaultWindow
    private var goAwayReceived: HTTP2StreamID?
    private var goAwaySent: HTTP2StreamID?
    private var awaitingPreface: Bool
    /// The peer's first frame, which must be SETTINGS (RFC 9113 3.4: part of its preface), has not come yet.
    private var awaitingSettings = true
    private var prefaceSent = false
    /// A connection error was raised (or the connection closed): nothing more is read or written.
    private var closing = false
    /// The start of a frame that the last read ended in.
    private var partial: ByteBuffer?
    private var pendingBlock: PendingBlock?
    /// Frames written since the last flush, and their promises.
    private var out: ByteBuffer
    private var outPromises: [EventLoopPromise<Void>] = []
    /// Something was written and not flushed yet.
    private var unflushed = false
    /// What the mux is told once the write or frame being processed is done, never in the middle of one (a
    /// stream's owner may write again when told, and its frames must not land inside the ones being written): streams
    /// that closed (as `NIOHTTP2Handler` does) and DATA bytes that left.
    private var pendingClosed: [(id: HTTP2StreamID, reason: HTTP2ErrorCode?)] = []
    private var pendingWritten: [(HTTP2StreamID, Int)] = []
    /// This end's streams whose first frame (HEADERS) was refused: the mux is told (``HTTP2StreamMux/firstFrameNotSent(_:_:)``).
    private var pendingUnsent: [(HTTP2StreamID, any Error)] = []
    /// This end's streams whose first frame is in ``out``, not yet handed to the socket.
    private var firstFramesInOut: [HTTP2StreamID] = []
    /// This end's streams past the peer's `SETTINGS_MAX_CONCURRENT_STREAMS`, with what was written to them, oldest
    /// first: each opens (its frames are written) once an open one closes or the peer raises its limit, as
    /// `NIOHTTP2Handler` holds them. (A gateway allows 4,096; a model server may allow 100.)
    private var waitingToOpen: [(id: HTTP2StreamID, frames: [Queued])] = []
    private var depth = 0
    /// Answers (PING and SETTINGS acknowledgements, resets of broken streams) written while the connection could
    /// not take writes: a peer that sends PINGs without reading the answers is cut off at ``maxUnreadAnswers``.
    private var unreadAnswers = 0
    static let maxUnreadAnswers = 10_000

    /// - Parameters:
    ///   - settings: this end's SETTINGS (its initial window and header list size are enforced).
    ///   - limits: for a peer that is not a verified gateway (a local h2c client or endpoint); `nil` on the tunnel.
    init(server: Bool, settings: [HTTP2Setting], maxHeaderBytes: Int, limits: PeerLimits? = nil, mux: HTTP2StreamMux) {
        isServer = server
        self.limits = limits
        resetBudget = Double(limits?.resets ?? 0)
        self.settings = settings
        self.maxHeaderBytes = maxHeaderBytes
        self.mux = mux
        localInitialWindow = settings.last(where: { $0.parameter == .initialWindowSize })?.value ?? Self.defaultWindow
        decoder = TunnelHPACKDecoder(maxHeaderListSize: maxHeaderBytes)
        awaitingPreface = server
        out = ByteBufferAllocator().buffer(capacity: 0)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        allocator = context.channel.allocator
        self.context = context
        mux.connection = self
        if context.channel.isActive { sendPreface(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failEverything(ChannelError.ioOnClosedChannel)
        mux.connection = nil
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        sendPreface(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        failEverything(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    private func sendPreface(context: ChannelHandlerContext) {
        guard !prefaceSent else { return }
        prefaceSent = true
        if !isServer { out.writeBytes(Self.preface) }
        writeFrameHeader(length: 6 * settings.count, type: 4, flags: 0, stream: .rootStream)
        for setting in settings {
            out.writeInteger(Self.identifier(of: setting.parameter))
            out.writeInteger(UInt32(truncatingIfNeeded: setting.value))
        }
        flushOut(context: context)
    }

    /// The waiting streams will not open (a GOAWAY came, or the connection closed): the peer never saw them.
    private func refuseWaiting(_ error: any Error) {
        let waiting = waitingToOpen
        waitingToOpen.removeAll()
        for stream in waiting {
            for frame in stream.frames { frame.promise?.fail(error) }
            pendingUnsent.append((stream.id, error))
        }
    }

    private func failEverything(_ error: any Error) {
        let promises = outPromises
        outPromises.removeAll()
        out.clear()
        // Streams whose HEADERS never left the buffer, or never opened: the peer never saw them.
        pendingUnsent += firstFramesInOut.map { ($0, error) }
        firstFramesInOut.removeAll()
        refuseWaiting(error)
        let unsent = pendingUnsent
        pendingUnsent.removeAll()
        for (id, error) in unsent { mux.firstFrameNotSent(id, error) }
        for promise in promises { promise.fail(error) }
        for stream in streams.values {
            stream.queued?.forEach { $0.promise?.fail(error) }
        }
        // The mux closes its streams when the connection goes.
        streams.removeAll()
        lastLookedUp = nil
        blocked.removeAll()
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var buffer = unwrapInboundIn(data)
        if awaitingPreface {
            var preface = partial ?? allocator.buffer(capacity: Self.preface.count)
            partial = nil
            let take = min(Self.preface.count - preface.readableBytes, buffer.readableBytes)
            preface.writeImmutableBuffer(buffer.readSlice(length: take)!)
            guard preface.readableBytes == Self.preface.count else {
                guard preface.readableBytesView.elementsEqual(Self.preface.prefix(preface.readableBytes)) else {
                    return connectionError(.protocolError, "the connection did not start with the HTTP/2 preface", context: context)
                }
                partial = preface
                return
            }
            guard preface.readableBytesView.elementsEqual(Self.preface) else {
                return connectionError(.protocolError, "the connection did not start with the HTTP/2 preface", context: context)
            }
            awaitingPreface = false
        }
        if var held = partial {
            // Completes the frame the last read ended in with as few of this read's bytes as it takes; the rest of
            // the read is parsed where it is.
            partial = nil
            if held.readableBytes < 9 {
                let take = min(9 - held.readableBytes, buffer.readableBytes)
                held.writeImmutableBuffer(buffer.readSlice(length: take)!)
                guard held.readableBytes == 9 else {
                    partial = held
                    return
                }
            }
            let length = Int(held.getInteger(at: held.readerIndex, as: UInt32.self)! >> 8)
            guard length <= Self.maxFrameSize else {
                return connectionError(.frameSizeError, "a frame of \(length) bytes, above the largest this end accepts (\(Self.maxFrameSize))", context: context)
            }
            let take = min(9 + length - held.readableBytes, buffer.readableBytes)
            held.writeImmutableBuffer(buffer.readSlice(length: take)!)
            guard held.readableBytes == 9 + length else {
                partial = held
                return
            }
            parseFrames(&held, context: context)
            guard !closing else { return }
        }
        parseFrames(&buffer, context: context)
        if !closing, buffer.readableBytes > 0 {
            // The start of a frame: copied, so that the read's buffer is not kept.
            var held = allocator.buffer(capacity: min(buffer.readableBytes + Self.maxFrameSize + 9, 2 * (Self.maxFrameSize + 9)))
            held.writeBuffer(&buffer)
            partial = held
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { unreadAnswers = 0 }
        context.fireChannelWritabilityChanged()
    }

    /// Counts an answer written while the connection cannot take writes; `false` once there are too many (the
    /// connection is then ending).
    private func answerAllowed(context: ChannelHandlerContext) -> Bool {
        guard !context.channel.isWritable else { return true }
        unreadAnswers += 1
        guard unreadAnswers <= Self.maxUnreadAnswers else {
            connectionError(.enhanceYourCalm, "more than \(Self.maxUnreadAnswers) answers wait while the peer reads nothing", context: context)
            return false
        }
        return true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        if unflushed || out.readableBytes > 0 { flushOut(context: context) }
    }

    /// Parses and processes the whole frames at the start of `buffer`.
    private func parseFrames(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        while !closing, buffer.readableBytes >= 9 {
            let start = buffer.readerIndex
            let word = buffer.getInteger(at: start, as: UInt32.self)!
            let length = Int(word >> 8)
            guard length <= Self.maxFrameSize else {
                return connectionError(.frameSizeError, "a frame of \(length) bytes, above the largest this end accepts (\(Self.maxFrameSize))", context: context)
            }
            guard buffer.readableBytes >= 9 + length else { return }
            let type = UInt8(truncatingIfNeeded: word)
            let flags = buffer.getInteger(at: start + 4, as: UInt8.self)!
            let id = HTTP2StreamID(Int32(bitPattern: buffer.getInteger(at: start + 5, as: UInt32.self)! & 0x7fff_ffff))
            buffer.moveReaderIndex(forwardBy: 9)
            let payload = buffer.readSlice(length: length)!
            depth += 1
            process(type: type, flags: flags, id: id, payload: payload, context: context)
            depth -= 1
            tellMux(context: context)
        }
    }

    private func process(type: UInt8, flags: UInt8, id: HTTP2StreamID, payload: ByteBuffer, context: ChannelHandlerContext) {
        if awaitingSettings {
            guard type == 4, flags & 0x1 == 0 else {
                return connectionError(.protocolError, "the peer's first frame is not SETTINGS (its connection preface)", context: context)
            }
            awaitingSettings = false
        }
        if let pending = pendingBlock, type != 9 || id != pending.streamID {
            return connectionError(.protocolError, "a frame other than CONTINUATION inside the header block of stream \(pending.streamID)", context: context)
        }
        switch type {
        case 0: receiveData(flags: flags, id: id, payload: payload, context: context)
        case 1: receiveHeaders(flags: flags, id: id, payload: payload, context: context)
        case 2:
            if id == .rootStream { return connectionError(.protocolError, "PRIORITY on stream 0", context: context) }
            if payload.readableBytes != 5 { streamError(id, .frameSizeError, context: context) }
        case 3: receiveReset(id: id, payload: payload, context: context)
        case 4: receiveSettings(flags: flags, id: id, payload: payload, context: context)
        case 5: connectionError(.protocolError, "PUSH_PROMISE (push is not enabled)", context: context)
        case 6: receivePing(flags: flags, id: id, payload: payload, context: context)
        case 7: receiveGoAway(id: id, payload: payload, context: context)
        case 8: receiveWindowUpdate(id: id, payload: payload, context: context)
        case 9: receiveContinuation(flags: flags, id: id, payload: payload, context: context)
        default: break   // unknown frame types are ignored (RFC 9113 section 5.5)
        }
    }

    private func stream(_ id: HTTP2StreamID) -> Stream? {
        if let last = lastLookedUp, last.id == id { return last.stream }
        guard let stream = streams[id] else { return nil }
        lastLookedUp = (id, stream)
        return stream
    }

    private func isLocal(_ id: HTTP2StreamID) -> Bool {
        (Int(id) % 2 == 1) != isServer
    }

    /// A stream ID neither end has used yet.
    private func isIdle(_ id: HTTP2StreamID) -> Bool {
        isLocal(id) ? id > lastOutboundStreamID : id > lastInboundStreamID
    }

    /// Removes the padding of a padded frame; `nil` if it is malformed.
    private static func unpad(_ payload: inout ByteBuffer, flags: UInt8) -> Int?? {
        guard flags & 0x8 != 0 else { return .some(nil) }
        guard let padding = payload.readInteger(as: UInt8.self), payload.readableBytes >= Int(padding) else { return nil }
        payload.moveWriterIndex(to: payload.writerIndex - Int(padding))
        return .some(Int(padding))
    }

    private func receiveData(flags: UInt8, id: HTTP2StreamID, payload: ByteBuffer, context: ChannelHandlerContext) {
        guard id != .rootStream else { return connectionError(.protocolError, "DATA on stream 0", context: context) }
        let flowControlled = payload.readableBytes
        connectionReceiveWindow -= flowControlled
        guard connectionReceiveWindow >= 0 else {
            return connectionError(.flowControlError, "DATA beyond the connection's window", context: context)
        }
        var data = payload
        guard let padding = Self.unpad(&data, flags: flags) else {
            return connectionError(.protocolError, "DATA with more padding than payload", context: context)
        }
        guard let stream = stream(id) else {
            if isIdle(id) { return connectionError(.protocolError, "DATA on stream \(id), which is not open", context: context) }
            // A stream closed (reset) here: ignored, but its bytes count against the connection's window.
            return mux.inboundWindow(.rootStream, connectionReceiveWindow)
        }
        guard stream.remoteOpen else {
            streamError(id, .streamClosed, context: context)
            return mux.inboundWindow(.rootStream, connectionReceiveWindow)
        }
        stream.receiveWindow -= flowControlled
        guard stream.receiveWindow >= 0 else {
            streamError(id, .flowControlError, context: context)
            return mux.inboundWindow(.rootStream, connectionReceiveWindow)
        }
        let endStream = flags & 0x1 != 0
        if data.readableBytes == 0 && !endStream {
            emptyDataFrames += 1
            guard emptyDataFrames <= Self.maxEmptyDataFrames else {
                return connectionError(.enhanceYourCalm, "more than \(Self.maxEmptyDataFrames) empty DATA frames in a row", context: context)
            }
        } else {
            emptyDataFrames = 0
        }
        mux.receive(id, .data(.init(data: .byteBuffer(data), endStream: endStream, paddingBytes: padding)))
        // (The mux may have reset the stream meanwhile: then its window no longer matters.)
        if self.stream(id) === stream { mux.inboundWindow(id, stream.receiveWindow) }
        mux.inboundWindow(.rootStream, connectionReceiveWindow)
        if endStream { remoteEnded(id) }
    }

    private func receiveHeaders(flags: UInt8, id: HTTP2StreamID, payload: ByteBuffer, context: ChannelHandlerContext) {
        guard id != .rootStream else { return connectionError(.protocolError, "HEADERS on stream 0", context: context) }
        var fragment = payload
        guard Self.unpad(&fragment, flags: flags) != nil else {
            return connectionError(.protocolError, "HEADERS with more padding than payload", context: context)
        }
        if flags & 0x20 != 0 {
            guard fragment.readableBytes >= 5 else { return connectionError(.frameSizeError, "HEADERS too short for its priority", context: context) }
            fragment.moveReaderIndex(forwardBy: 5)
        }
        let endStream = flags & 0x1 != 0
        if flags & 0x4 != 0 {
            headerBlockEnded(id: id, endStream: endStream, block: &fragment, context: context)
        } else {
            var block = allocator.buffer(capacity: fragment.readableBytes * 2)
            block.writeBuffer(&fragment)
            pendingBlock = PendingBlock(streamID: id, endStream: endStream, block: block)
        }
    }

    private func receiveContinuation(flags: UInt8, id: HTTP2StreamID, payload: ByteBuffer, context: ChannelHandlerContext) {
        guard var pending = pendingBlock else {
            return connectionError(.protocolError, "CONTINUATION outside a header block", context: context)
        }
        pendingBlock = nil
        pending.continuations += 1
        guard pending.continuations <= Self.maxContinuationFrames else {
            return connectionError(.enhanceYourCalm, "more than \(Self.maxContinuationFrames) CONTINUATION frames in one header block", context: context)
        }
        var fragment = payload
        pending.block.writeBuffer(&fragment)
        guard pending.block.readableBytes <= 2 * maxHeaderBytes + Self.maxFrameSize else {
            return connectionError(.enhanceYourCalm, "a header block of more than \(pending.block.readableBytes) bytes", context: context)
        }
        if flags & 0x4 != 0 {
            headerBlockEnded(id: id, endStream: pending.endStream, block: &pending.block, context: context)
        } else {
            pendingBlock = pending
        }
    }

    private func headerBlockEnded(id: HTTP2StreamID, endStream: Bool, block: inout ByteBuffer, context: ChannelHandlerContext) {
        // Decoded whatever becomes of the stream: the decoder's table must follow the peer's encoder.
        let headers: HeaderFields
        do {
            headers = try decoder.decode(block)
        } catch {
            return connectionError(.compressionError, "a header block could not be decoded (\(error))", context: context)
        }
        if let stream = stream(id) {
            guard stream.remoteOpen else { return streamError(id, .streamClosed, context: context) }
            // A request's second header block is its trailers, which end it (RFC 9113 8.1); a response may have
            // informational heads before its final one.
            if isServer, stream.headersReceived, !endStream { return streamError(id, .protocolError, context: context) }
            stream.headersReceived = true
            mux.receive(id, .headers(.init(headers: headers, endStream: endStream)))
            if endStream { remoteEnded(id) }
            return
        }
        guard !isLocal(id) else {
            // A response on a stream this end reset is ignored; one on a stream it never opened is an error.
            if isIdle(id) { connectionError(.protocolError, "HEADERS on stream \(id), which this end did not open", context: context) }
            return
        }
        guard isServer else {
            return connectionError(.protocolError, "HEADERS on stream \(id): a server may not open streams (push is off)", context: context)
        }
        guard id > lastInboundStreamID else { return }   // a stream of the peer's that is closed here (reset): ignored
        lastInboundStreamID = id
        // Above the last stream of a GOAWAY this end sent, or past the concurrent streams allowed: never processed.
        guard id <= goAwaySent ?? id, openInbound < Self.maxConcurrentStreams else {
            guard answerAllowed(context: context) else { return }
            return writeReset(id, .refusedStream)
        }
        let stream = Stream(sendWindow: remoteInitialWindow, receiveWindow: localInitialWindow)
        stream.headersReceived = true
        streams[id] = stream
        openInbound += 1
        mux.receive(id, .headers(.init(headers: headers, endStream: endStream)))
        if endStream { remoteEnded(id) }
    }

    private func receiveReset(id: HTTP2StreamID, payload: ByteBuffer, context: ChannelHandlerContext) {
        guard id != .rootStream else { return connectionError(.protocolError, "RST_STREAM on stream 0", context: context) }
        var payload = payload
        guard payload.readableBytes == 4, let code = payload.readInteger(as: UInt32.self) else {
            return connectionError(.frameSizeError, "RST_STREAM of \(payload.readableBytes) bytes", context: context)
        }
        if let limits {
            let now = NIODeadline.now()
            let rate = Double(limits.resets) / Double(limits.resetWindow.nanoseconds)
            resetBudget = min(Double(limits.resets), resetBudget + Double((now - resetBudgetTime).nanoseconds) * rate)
            resetBudgetTime = now
            resetBudget -= 1
            guard resetBudget >= 0 else {
                return connectionError(.enhanceYourCalm, "more than \(limits.resets) RST_STREAM frames in \(limits.resetWindow)", context: context)
            }
        }
        guard stream(id) != nil else {
            if isIdle(id) { connectionError(.protocolError, "RST_STREAM on stream \(id), which is not open", context: context) }
            return
        }
        closeStream(id, reason: HTTP2ErrorCode(networkCode: Int(code)))
    }

    private func receiveSettings(flags: UInt8, id: HTTP2StreamID, payload: ByteBuffer, context: ChannelHandlerContext) {
        guard id == .rootStream else { return connectionError(.protocolError, "SETTINGS on stream \(id)", context: context) }
        if flags & 0x1 != 0 {
            guard payload.readableBytes == 0 else { return connectionError(.frameSizeError, "a SETTINGS acknowledgement with a payload", context: context) }
            context.fireChannelRead(wrapInboundOut(HTTP2Frame(streamID: .rootStream, payload: .settings(.ack))))
            return
        }
        guard payload.readableBytes % 6 == 0 else { return connectionError(.frameSizeError, "SETTINGS of \(payload.readableBytes) bytes", context: context) }
        var payload = payload
        var received: [HTTP2Setting] = []
        var windowDelta = 0
        while let (identifier, value) = payload.readMultipleIntegers(as: (UInt16, UInt32).self) {
            switch identifier {
            case 1:
                encoder.setTableSizeLimit(Int(value))
            case 2:
                // A server may not enable push (RFC 9113 6.5.2); 0 or 1 from a client.
                guard value <= (isServer ? 1 : 0) else { return connectionError(.protocolError, "SETTINGS_ENABLE_PUSH of \(value)", context: context) }
            case 3:
                remoteMaxConcurrentStreams = Int(value)
            case 4:
                guard Int(value) <= Self.largestWindow else {
                    return connectionError(.flowControlError, "SETTINGS_INITIAL_WINDOW_SIZE of \(value)", context: context)
                }
                windowDelta += Int(value) - remoteInitialWindow
                remoteInitialWindow = Int(value)
            case 5:
                guard (Self.maxFrameSize...(1 << 24) - 1).contains(Int(value)) else {
                    return connectionError(.protocolError, "SETTINGS_MAX_FRAME_SIZE of \(value)", context: context)
                }
                remoteMaxFrameSize = Int(value)
            default:
                break
            }
            received.append(HTTP2Setting(parameter: HTTP2SettingsParameter(extensionSetting: Int(identifier)), value: Int(value)))
        }
        guard answerAllowed(context: context) else { return }
        writeFrameHeader(length: 0, type: 4, flags: 0x1, stream: .rootStream)
        if windowDelta != 0 {
            for stream in streams.values {
                stream.sendWindow += windowDelta
                if stream.sendWindow > Self.largestWindow {
                    return connectionError(.flowControlError, "SETTINGS_INITIAL_WINDOW_SIZE took a stream's window past 2^31-1", context: context)
                }
            }
        }
        context.fireChannelRead(wrapInboundOut(HTTP2Frame(streamID: .rootStream, payload: .settings(.settings(received)))))
        if windowDelta > 0 { drainBlocked(context: context) }
    }

    private func receivePing(flags: UInt8, id: HTTP2StreamID, payload: ByteBuffer, context: ChannelHandlerContext) {
        guard id == .rootStream else { return connectionError(.protocolError, "PING on stream \(id)", context: context) }
        var payload = payload
        guard payload.readableBytes == 8, let value = payload.readInteger(as: UInt64.self) else {
            return connectionError(.frameSizeError, "PING of \(payload.readableBytes) bytes", context: context)
        }
        let ack = flags & 0x1 != 0
        if !ack {
            guard answerAllowed(context: context) else { return }
            writeFrameHeader(length: 8, type: 6, flags: 0x1, stream: .rootStream)
            out.writeInteger(value)
        }
        context.fireChannelRead(wrapInboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: value), ack: ack))))
    }

    private func receiveGoAway(id: HTTP2StreamID, payload: ByteBuffer, context: ChannelHandlerContext) {
        guard id == .rootStream else { return connectionError(.protocolError, "GOAWAY on stream \(id)", context: context) }
        var payload = payload
        guard let (rawLast, code) = payload.readMultipleIntegers(as: (UInt32, UInt32).self) else {
            return connectionError(.frameSizeError, "GOAWAY of \(payload.readableBytes) bytes", context: context)
        }
        let last = HTTP2StreamID(Int32(bitPattern: rawLast & 0x7fff_ffff))
        goAwayReceived = min(last, goAwayReceived ?? last)
        // Seen by the observers before the streams above `last` close: they were not processed, and may be retried.
        context.fireChannelRead(wrapInboundOut(HTTP2Frame(streamID: .rootStream, payload: .goAway(
            lastStreamID: last, errorCode: HTTP2ErrorCode(networkCode: Int(code)), opaqueData: payload.readableBytes > 0 ? payload : nil))))
        for id in streams.keys.filter({ isLocal($0) && $0 > last }).sorted() {
            closeStream(id, reason: .refusedStream)
        }
        refuseWaiting(NIOHTTP2Errors.streamClosed(streamID: last, errorCode: .refusedStream))
    }

    private func receiveWindowUpdate(id: HTTP2StreamID, payload: ByteBuffer, context: ChannelHandlerContext) {
        var payload = payload
        guard payload.readableBytes == 4, let raw = payload.readInteger(as: UInt32.self) else {
            return connectionError(.frameSizeError, "WINDOW_UPDATE of \(payload.readableBytes) bytes", context: context)
        }
        let increment = Int(raw & 0x7fff_ffff)
        if id == .rootStream {
            guard increment > 0 else { return connectionError(.protocolError, "a WINDOW_UPDATE of 0 for the connection", context: context) }
            connectionSendWindow += increment
            guard connectionSendWindow <= Self.largestWindow else {
                return connectionError(.flowControlError, "WINDOW_UPDATE took the connection's window past 2^31-1", context: context)
            }
            drainBlocked(context: context)
            return
        }
        guard let stream = stream(id) else {
            if isIdle(id) { connectionError(.protocolError, "WINDOW_UPDATE on stream \(id), which is not open", context: context) }
            return
        }
        guard increment > 0 else { return streamError(id, .protocolError, context: context) }
        stream.sendWindow += increment
        guard stream.sendWindow <= Self.largestWindow else { return streamError(id, .flowControlError, context: context) }
        if stream.queued != nil { drain(id, context: context) }
    }

    // MARK: Writing

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        write(unwrapOutboundIn(data), promise: promise, context: context)
    }

    /// A frame from the mux, which is the next handler: called straight, not through the pipeline (whose `NIOAny`
    /// boxed each frame on the heap).
    func write(_ frame: StreamFrame, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        write(frame, promise: promise, context: context)
    }

    private func write(_ frame: StreamFrame, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        guard !closing else {
            if case .headers = frame.payload, isLocal(frame.streamID), frame.streamID > lastOutboundStreamID {
                pendingUnsent.append((frame.streamID, ChannelError.ioOnClosedChannel))
                tellMux(context: context)
            }
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        depth += 1
        write(frame.streamID, frame.payload, promise: promise, context: context)
        depth -= 1
        tellMux(context: context)
    }

    /// Tells the mux what the write or frame just processed brought about.
    private func tellMux(context: ChannelHandlerContext) {
        guard depth == 0 else { return }
        while !pendingWritten.isEmpty || !pendingClosed.isEmpty || !pendingUnsent.isEmpty || canOpenWaiting {
            openWaiting(context: context)
            // Each list is swapped out (no allocation: a copy and `removeAll(keepingCapacity:)` made the list a new
            // buffer every time, two per request) and its buffer given back once read, unless more came meanwhile.
            var written: [(HTTP2StreamID, Int)] = []
            swap(&written, &pendingWritten)
            for (id, bytes) in written { mux.dataWritten(id, bytes) }
            if pendingWritten.isEmpty {
                written.removeAll(keepingCapacity: true)
                swap(&written, &pendingWritten)
            }
            var unsent: [(HTTP2StreamID, any Error)] = []
            swap(&unsent, &pendingUnsent)
            for (id, error) in unsent { mux.firstFrameNotSent(id, error) }
            var closed: [(id: HTTP2StreamID, reason: HTTP2ErrorCode?)] = []
            swap(&closed, &pendingClosed)
            for (id, reason) in closed { mux.streamClosed(id, reason: reason) }
            if pendingClosed.isEmpty {
                closed.removeAll(keepingCapacity: true)
                swap(&closed, &pendingClosed)
            }
        }
    }

    /// Opens a stream of this end's: its first frame (HEADERS) goes into ``out`` next.
    @discardableResult
    private func openLocal(_ id: HTTP2StreamID) -> Stream {
        let stream = Stream(sendWindow: remoteInitialWindow, receiveWindow: localInitialWindow)
        streams[id] = stream
        openOutbound += 1
        firstFramesInOut.append(id)
        return stream
    }

    private var canOpenWaiting: Bool {
        !waitingToOpen.isEmpty && openOutbound < remoteMaxConcurrentStreams && goAwayReceived == nil && !closing
    }

    /// Opens the waiting streams the peer's limit now allows, oldest first (their IDs were taken in that order), and
    /// writes what waited with them.
    private func openWaiting(context: ChannelHandlerContext) {
        depth += 1
        while canOpenWaiting {
            let waiting = waitingToOpen.removeFirst()
            openLocal(waiting.id)
            for frame in waiting.frames { write(waiting.id, frame.payload, promise: frame.promise, context: context) }
        }
        depth -= 1
    }

    private func write(_ id: HTTP2StreamID, _ payload: StreamFrame.Payload, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        if !waitingToOpen.isEmpty, let index = waitingToOpen.firstIndex(where: { $0.id == id }) {
            guard case .rstStream(let code) = payload else {
                return waitingToOpen[index].frames.append(Queued(payload: payload, promise: promise))
            }
            // Reset before it opened: the peer never hears of it.
            let waiting = waitingToOpen.remove(at: index)
            let error = NIOHTTP2Errors.streamClosed(streamID: id, errorCode: code)
            for frame in waiting.frames { frame.promise?.fail(error) }
            promise?.succeed(())
            pendingClosed.append((id, code))
            return
        }
        switch payload {
        case .headers(let headers):
            let stream: Stream
            if let existing = self.stream(id) {
                stream = existing
            } else {
                guard isLocal(id), id > lastOutboundStreamID else {
                    promise?.fail(NIOHTTP2Errors.streamClosed(streamID: id, errorCode: .streamClosed))
                    return
                }
                // Not sent: the peer never sees the stream, so its request may go elsewhere.
                guard goAwayReceived == nil else {
                    let error = NIOHTTP2Errors.streamClosed(streamID: id, errorCode: .refusedStream)
                    pendingUnsent.append((id, error))
                    promise?.fail(error)
                    return
                }
                lastOutboundStreamID = id
                guard openOutbound < remoteMaxConcurrentStreams, waitingToOpen.isEmpty else {
                    waitingToOpen.append((id, [Queued(payload: payload, promise: promise)]))
                    return
                }
                stream = openLocal(id)
            }
            guard stream.localOpen else {
                promise?.fail(NIOHTTP2Errors.streamClosed(streamID: id, errorCode: .streamClosed))
                return
            }
            if headers.endStream { stream.localOpen = false }
            guard stream.queued == nil else { return stream.queued!.append(Queued(payload: payload, promise: promise)) }
            writeHeaders(id, headers, promise: promise, context: context)
            closeIfEnded(id)
        case .data(let data):
            guard let stream = stream(id), stream.localOpen else {
                promise?.fail(NIOHTTP2Errors.streamClosed(streamID: id, errorCode: .streamClosed))
                return
            }
            guard case .byteBuffer(let bytes) = data.data else {
                promise?.fail(TunnelHTTP2Error(code: .internalError, message: "a file region cannot be sent through the tunnel"))
                return
            }
            if data.endStream { stream.localOpen = false }
            guard stream.queued == nil else { return stream.queued!.append(Queued(payload: payload, promise: promise)) }
            if sendData(id, stream, bytes, endStream: data.endStream, promise: promise, context: context) { closeIfEnded(id) }
        case .rstStream(let code):
            guard stream(id) != nil else {
                promise?.succeed(())
                return
            }
            writeReset(id, code, promise: promise)
            closeStream(id, reason: code)
        case .windowUpdate(let increment):
            writeFrameHeader(length: 4, type: 8, flags: 0, stream: id)
            out.writeInteger(UInt32(increment))
            append(promise)
            if id == .rootStream {
                connectionReceiveWindow += increment
            } else {
                stream(id)?.receiveWindow += increment
            }
            mux.windowUpdateWritten(id, increment)
        case .ping(let data, let ack):
            writeFrameHeader(length: 8, type: 6, flags: ack ? 0x1 : 0, stream: .rootStream)
            out.writeInteger(data.integer)
            append(promise)
        case .goAway(let last, let code, let opaque):
            writeFrameHeader(length: 8 + (opaque?.readableBytes ?? 0), type: 7, flags: 0, stream: .rootStream)
            out.writeMultipleIntegers(UInt32(Int(last)), UInt32(code.networkCode))
            if let opaque { out.writeImmutableBuffer(opaque) }
            append(promise)
            goAwaySent = min(last, goAwaySent ?? last)
        }
    }

    func flush(context: ChannelHandlerContext) {
        flushOut(context: context)
    }

    /// Writes a stream's DATA as far as the send windows allow (frames of at most the peer's largest), and queues the
    /// rest; `true` if all of it left.
    private func sendData(_ id: HTTP2StreamID, _ stream: Stream, _ bytes: ByteBuffer, endStream: Bool, promise: EventLoopPromise<Void>?,
                          context: ChannelHandlerContext) -> Bool {
        var bytes = bytes
        while true {
            // An empty DATA frame (the end of the stream) needs no window.
            let chunk = bytes.readableBytes == 0 ? 0 : max(0, min(bytes.readableBytes, stream.sendWindow, connectionSendWindow, remoteMaxFrameSize))
            let last = chunk == bytes.readableBytes
            guard chunk > 0 || last else {
                // The rest waits for a window.
                let rest = StreamFrame.Payload.data(.init(data: .byteBuffer(bytes), endStream: endStream))
                if stream.queued == nil { stream.queued = CircularBuffer(initialCapacity: 4) }
                stream.queued!.prepend(Queued(payload: rest, promise: promise))
                if !stream.inBlockedList {
                    stream.inBlockedList = true
                    blocked.append(id)
                }
                return false
            }
            writeFrameHeader(length: chunk, type: 0, flags: last && endStream ? 0x1 : 0, stream: id)
            let payload = bytes.readSlice(length: chunk)!
            stream.sendWindow -= chunk
            connectionSendWindow -= chunk
            pendingWritten.append((id, chunk))
            if out.readableBytes + chunk <= Self.joinedWrite {
                out.writeImmutableBuffer(payload)
                if last { append(promise) }
            } else {
                // Not copied: what was framed before goes first, then the payload as it is.
                writeOut(context: context)
                context.write(wrapOutboundOut(.byteBuffer(payload)), promise: last ? promise : nil)
                unflushed = true
            }
            if last { return true }
        }
    }

    /// Writes what waits on a stream, as far as the windows allow.
    private func drain(_ id: HTTP2StreamID, context: ChannelHandlerContext) {
        guard let stream = stream(id) else { return }
        while let next = stream.queued?.popFirst() {
            switch next.payload {
            case .data(let data):
                guard case .byteBuffer(let bytes) = data.data else {
                    next.promise?.fail(TunnelHTTP2Error(code: .internalError, message: "a file region cannot be sent through the tunnel"))
                    continue
                }
                // What does not fit goes back to the front of the queue.
                guard sendData(id, stream, bytes, endStream: data.endStream, promise: next.promise, context: context) else { return }
            case .headers(let headers):
                writeHeaders(id, headers, promise: next.promise, context: context)
            default:
                next.promise?.succeed(())
            }
            if stream.queued?.isEmpty == true {
                // Left in `blocked` until the next pass over it, which skips it.
                stream.queued = nil
                closeIfEnded(id)
            }
        }
    }

    /// Gives the connection's window to the blocked streams in turn: those it did not reach keep their place, and
    /// those that got some and still wait go behind them. Stops once the window is spent.
    private func drainBlocked(context: ChannelHandlerContext) {
        guard !blocked.isEmpty else { return }
        let waiting = blocked
        blocked.removeAll(keepingCapacity: true)
        var served: [HTTP2StreamID] = []
        for id in waiting {
            guard let stream = stream(id) else { continue }
            stream.inBlockedList = false
            guard stream.queued != nil else { continue }
            if connectionSendWindow > 0 {
                drain(id, context: context)
                if stream.queued != nil, !stream.inBlockedList {
                    stream.inBlockedList = true
                    served.append(id)
                }
            } else if !stream.inBlockedList {
                stream.inBlockedList = true
                blocked.append(id)
            }
        }
        blocked.append(contentsOf: served)
    }

    /// A header block, as HEADERS and, if it is larger than the peer's largest frame, CONTINUATION frames.
    private func writeHeaders(_ id: HTTP2StreamID, _ headers: StreamFrame.Headers, promise: EventLoopPromise<Void>?,
                              context: ChannelHandlerContext) {
        let start = out.writerIndex
        let flags: UInt8 = headers.endStream ? 0x1 : 0
        writeFrameHeader(length: 0, type: 1, flags: flags | 0x4, stream: id)
        encoder.encode(headers, to: &out)
        let length = out.writerIndex - start - 9
        if length <= remoteMaxFrameSize {
            out.setInteger(UInt32(length) << 8 | 1, at: start)
        } else {
            var block = out.getSlice(at: start + 9, length: length)!
            block = ByteBuffer(buffer: block)
            out.moveWriterIndex(to: start)
            var first = true
            while block.readableBytes > 0 {
                let size = min(block.readableBytes, remoteMaxFrameSize)
                let end: UInt8 = size == block.readableBytes ? 0x4 : 0
                writeFrameHeader(length: size, type: first ? 1 : 9, flags: (first ? flags : 0) | end, stream: id)
                out.writeImmutableBuffer(block.readSlice(length: size)!)
                first = false
            }
        }
        append(promise)
    }

    private func writeReset(_ id: HTTP2StreamID, _ code: HTTP2ErrorCode, promise: EventLoopPromise<Void>? = nil) {
        writeFrameHeader(length: 4, type: 3, flags: 0, stream: id)
        out.writeInteger(UInt32(code.networkCode))
        append(promise)
    }

    private func writeFrameHeader(length: Int, type: UInt8, flags: UInt8, stream: HTTP2StreamID) {
        out.writeMultipleIntegers(UInt32(length) << 8 | UInt32(type), flags, UInt32(Int(stream)))
    }

    private func append(_ promise: EventLoopPromise<Void>?) {
        if let promise { outPromises.append(promise) }
    }

    /// Writes what was framed since the last flush, as one buffer, and flushes.
    private func flushOut(context: ChannelHandlerContext) {
        writeOut(context: context)
        unflushed = false
        context.flush()
    }

    /// Writes what was framed so far, as one buffer.
    private func writeOut(context: ChannelHandlerContext) {
        guard out.readableBytes > 0 else { return }
        let promise: EventLoopPromise<Void>?
        switch outPromises.count {
        case 0: promise = nil
        case 1: promise = outPromises[0]
        default:
            let all = outPromises
            let joined = context.eventLoop.makePromise(of: Void.self)
            joined.futureResult.assumeIsolated().whenComplete { result in
                for promise in all { promise.completeWith(result) }
            }
            promise = joined
        }
        outPromises.removeAll(keepingCapacity: true)
        // Taken out first: a write made while this one is passed on goes into the next buffer. The next buffer
        // starts small whatever this one grew to (a large header block, a burst of answers).
        let buffer = out
        out.clear(minimumCapacity: 1024)
        firstFramesInOut.removeAll(keepingCapacity: true)
        unflushed = true
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
    }

    // MARK: Stream states

    /// Closes a stream whose both ends ended and that has nothing left to write.
    private func closeIfEnded(_ id: HTTP2StreamID) {
        guard let stream = stream(id), !stream.localOpen, !stream.remoteOpen, stream.queued == nil else { return }
        closeStream(id, reason: nil)
    }

    private func remoteEnded(_ id: HTTP2StreamID) {
        stream(id)?.remoteOpen = false
        closeIfEnded(id)
    }

    private func closeStream(_ id: HTTP2StreamID, reason: HTTP2ErrorCode?) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        if lastLookedUp?.id == id { lastLookedUp = nil }
        if isLocal(id) { openOutbound -= 1 } else { openInbound -= 1 }
        if let queued = stream.queued {
            // (Left in `blocked` until the next pass over it, which skips it.)
            let error = NIOHTTP2Errors.streamClosed(streamID: id, errorCode: reason ?? .cancel)
            for item in queued { item.promise?.fail(error) }
        }
        pendingClosed.append((id, reason))
    }

    private func streamError(_ id: HTTP2StreamID, _ code: HTTP2ErrorCode, context: ChannelHandlerContext) {
        guard answerAllowed(context: context) else { return }
        writeReset(id, code)
        closeStream(id, reason: code)
    }

    private func connectionError(_ code: HTTP2ErrorCode, _ message: String, context: ChannelHandlerContext) {
        guard !closing else { return }
        let error = TunnelHTTP2Error(code: code, message: message)
        writeFrameHeader(length: 8, type: 7, flags: 0, stream: .rootStream)
        out.writeMultipleIntegers(UInt32(Int(lastInboundStreamID)), UInt32(code.networkCode))
        flushOut(context: context)
        closing = true
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private static func identifier(of parameter: HTTP2SettingsParameter) -> UInt16 {
        switch parameter {
        case .headerTableSize: 1
        case .enablePush: 2
        case .maxConcurrentStreams: 3
        case .initialWindowSize: 4
        case .maxFrameSize: 5
        case .maxHeaderListSize: 6
        default: 8
        }
    }
}
