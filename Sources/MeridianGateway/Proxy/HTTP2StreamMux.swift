import NIOCore
import NIOHPACK
import NIOHTTP2

/// What the owner of an ``HTTP2MuxStream`` (an ``HTTP2StreamUpstream`` or ``HTTP2StreamDownstream``) is told.
protocol HTTP2MuxStreamDelegate: AnyObject {
    /// A HEADERS or DATA payload of the stream.
    func streamReceived(_ payload: StreamFrame.Payload)
    /// The end of a batch of payloads (the connection's read completed, or held payloads were delivered).
    func streamReadComplete()
    /// The stream can take writes again.
    func streamBecameWritable()
    /// The stream is closed: cleanly (`nil`), reset, or lost with its connection. Called once; nothing follows.
    func streamClosed(_ error: (any Error)?)
}

/// The streams of one gateway HTTP/2 connection (tunnel or h2c, either direction), without a child channel per
/// stream: the last HTTP/2 handler of the connection's pipeline, after ``TunnelHTTP2Handler``.
///
/// A child channel per stream (swift-nio-http2's multiplexer) means a channel, a pipeline, its contexts and several
/// promises for every request on every gateway. Here a stream is one small object: frames go to it by stream ID, its
/// owner writes frames through it, and the mux does what the child channels did:
/// - **Flow control, inbound**: a stream's window is opened again (WINDOW_UPDATE) as its owner consumes the data,
///   not as it arrives; an owner that cannot pass data on pauses the stream, which then holds what arrives and
///   opens no window, so the sender stops (the same target window, 1 MiB, for each stream and the connection).
/// - **Flow control, outbound**: a stream counts the DATA bytes it wrote that have not left the connection yet
///   (``TunnelHTTP2Handler`` tells ``dataWritten(_:_:)``); above 256 KiB the stream is not writable, and it is
///   again below 64 KiB, as a child channel's watermarks did.
/// - **DATA payloads own their bytes**: the parser hands them out as slices of its read buffer, which is copied whole
///   whenever bytes are appended while a slice is alive; each payload is copied first, so one that waits (held by a
///   paused stream, or queued for a slow destination) pins nothing else (docs/gateway.md, "Held DATA frames and the
///   stream window").
/// - **Stream IDs** of outgoing streams are taken at their first write, so they are opened in order.
/// - **Flushes** asked for while the connection's read is being processed are done once, when it completes.
///
/// Root-stream frames (SETTINGS, PING, GOAWAY) and every event go on down the pipeline, to the connection's
/// observers. A stream error (a malformed frame on one stream) closes that stream only.
final class HTTP2StreamMux: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = StreamFrame

    /// Called with each stream the peer opens (server side), to give it an owner.
    typealias InboundStreamInitializer = (HTTP2MuxStream) -> Void

    static let highWatermark = 256 * 1024
    static let lowWatermark = 64 * 1024

    private let isServer: Bool
    /// The window each stream and the connection are kept near: the configured one, or what ``AdaptiveWindow`` grew it to.
    private(set) var targetWindow: Int
    /// On tunnel connections whose largest window is above the configured one.
    private var adaptive: AdaptiveWindow?
    /// Told each window ``AdaptiveWindow`` grows to (the metric).
    var windowGrown: ((Int) -> Void)?
    /// A sample starts: its PING leaves when the read completes.
    private var samplePingDue = false
    private let inboundStreamInitializer: InboundStreamInitializer?
    private(set) var context: ChannelHandlerContext?
    private var streams = StreamTable<HTTP2MuxStream>()
    /// Outgoing streams without an ID yet (nothing written).
    private var unopened: [ObjectIdentifier: HTTP2MuxStream] = [:]
    private var nextStreamID: HTTP2StreamID
    private var connectionWindow: ReceiveWindow
    /// Streams that received payloads in the read being processed.
    private var readBatch: [HTTP2MuxStream] = []
    private var inRead = false
    private var flushPending = false
    /// A flush asked for outside this connection's read waits for the end of the event loop's tick
    /// (``flush()``).
    private var flushScheduled = false
    /// The highest stream the peer opened: a frame for a lower, unknown stream belongs to one already closed. It is
    /// also the last stream the second GOAWAY of a graceful shutdown names (``finishShutdown(on:)``).
    private(set) var lastInboundStreamID: HTTP2StreamID = .rootStream
    /// On a local h2c client's connection: the worker's idle sweep closes it once it has had no stream since
    /// ``idleSince`` for the idle timeout (``closeIfIdle()``).
    var watchesIdle = false
    /// When the last stream closed (or the connection opened), while ``watchesIdle``.
    private(set) var idleSince = NIODeadline.now()

    init(server: Bool, targetWindow: Int, maximumWindow: Int? = nil, validatesHeaderBlocks: Bool,
         inboundStreamInitializer: InboundStreamInitializer?) {
        isServer = server
        self.validatesHeaderBlocks = validatesHeaderBlocks
        self.targetWindow = targetWindow
        if let maximumWindow, maximumWindow > targetWindow {
            adaptive = AdaptiveWindow(initial: targetWindow, maximum: maximumWindow)
        }
        self.inboundStreamInitializer = inboundStreamInitializer
        nextStreamID = server ? 2 : 1
        connectionWindow = ReceiveWindow(target: targetWindow)
    }

    var channel: (any Channel)? { context?.channel }

    /// Whether the streams' owners validate the header blocks they receive (``HeaderFields/validate(as:)``): on
    /// connections to local h2c clients and endpoints, not on the tunnel.
    let validatesHeaderBlocks: Bool

    // MARK: Idle and draining (an accepted connection's)

    /// No stream is open: the idle timeout runs from ``idleSince``.
    var isIdle: Bool { streams.isEmpty && unopened.isEmpty }

    /// Closes the connection if it is still idle (the worker's sweep, once the idle timeout has passed), after a
    /// GOAWAY naming the last stream served: a request the client sent meanwhile is then known not to have been
    /// processed, and safe to retry (RFC 9113 section 6.8), where a bare close would leave it in doubt. In place of
    /// NIO's `IdleStateHandler`, which made a promise for every write of the connection to note when it completed
    /// and read the clock on every read.
    func closeIfIdle() {
        guard isIdle, let channel else { return }
        Self.finishShutdown(on: channel)
        channel.close(promise: nil)
    }

    /// The first GOAWAY of a graceful shutdown (two-phase, as RFC 9113 section 6.8 recommends): no new streams,
    /// please; those already opened (whatever their IDs) are served.
    static func announceShutdown(on channel: any Channel) {
        channel.writeAndFlush(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil)),
                              promise: nil)
    }

    /// The second GOAWAY, once the client has had time to see the first: it names the last stream actually opened,
    /// so a stream the client opened after it (it had not seen the first one yet) is refused, and the client knows it
    /// was never processed and may retry it anywhere, a POST too, instead of losing it when the connection closes.
    static func finishShutdown(on channel: any Channel) {
        guard let mux = try? channel.pipeline.syncOperations.handler(type: HTTP2StreamMux.self) else { return }
        channel.writeAndFlush(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: mux.lastInboundStreamID, errorCode: .noError,
                                                                                   opaqueData: nil)),
                              promise: nil)
    }

    // MARK: Used by the streams

    /// A new outgoing stream; its ID is taken when it first writes.
    func makeStream(_ delegate: any HTTP2MuxStreamDelegate) -> HTTP2MuxStream {
        let stream = HTTP2MuxStream(mux: self, id: nil)
        stream.attach(delegate)
        if context?.channel.isActive != true {
            stream.close(nil, force: true)
            return stream
        }
        unopened[ObjectIdentifier(stream)] = stream
        return stream
    }

    func open(_ stream: HTTP2MuxStream) -> HTTP2StreamID {
        let id = nextStreamID
        nextStreamID = nextStreamID.advanced(by: 2)
        unopened[ObjectIdentifier(stream)] = nil
        streams[id] = stream
        return id
    }

    /// The connection's ``TunnelHTTP2Handler``, the handler before this one, which takes this mux's frames by a call
    /// (any other takes them through the pipeline). Set and cleared by the handler as it is added and removed (strong:
    /// a weak reference would send every retain and release of the handler through a side table).
    var connection: TunnelHTTP2Handler?

    func write(_ frame: StreamFrame, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        if let connection {
            connection.write(frame, promise: promise)
        } else {
            context.write(wrapOutboundOut(frame), promise: promise)
        }
    }

    /// Flushes what the streams wrote, once per read of this connection or, outside it, once per tick of the event
    /// loop: requests read from several client connections in one tick (and responses read from several endpoints)
    /// leave in one write, one TLS record, instead of one each. The flush runs as a task, after the loop has handled
    /// every connection that was ready, before it waits again.
    func flush() {
        if inRead {
            flushPending = true
        } else if !flushScheduled, let context {
            flushScheduled = true
            context.eventLoop.assumeIsolated().execute {
                guard self.flushScheduled else { return }
                self.flushScheduled = false
                self.context?.flush()
            }
        }
    }

    /// What waits for a flush (the scheduled one, or the read's) leaves before the close.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if flushScheduled || flushPending {
            flushScheduled = false
            flushPending = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }

    /// Forgets a stream that closed without a word from the connection's handler (it never opened, or its owner reset
    /// it).
    func forget(_ stream: HTTP2MuxStream) {
        if let id = stream.id {
            if streams[id] === stream { streams[id] = nil }
        } else {
            unopened[ObjectIdentifier(stream)] = nil
        }
        if watchesIdle, isIdle { idleSince = .now() }
    }

    var isConnectionWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: Told by the connection's handler

    /// The first frame (the HEADERS) of `id`, a stream of this end's, did not leave this process: refused by the
    /// connection's handler (a GOAWAY, or the peer's limit on concurrent streams, came first; the connection was
    /// closing), or still in its buffer when the connection closed. The peer never saw the stream, so its request may
    /// go elsewhere, whatever its method. A frame handed to the socket counts as seen: part of a write may have left.
    func firstFrameNotSent(_ id: HTTP2StreamID, _ error: any Error) {
        guard let stream = streams[id] else { return }
        streams[id] = nil
        stream.notSent(error)
    }

    /// `bytes` of a stream's DATA left for the connection (told by ``TunnelHTTP2Handler``).
    func dataWritten(_ id: HTTP2StreamID, _ bytes: Int) {
        streams[id]?.sent(bytes)
    }

    /// A WINDOW_UPDATE of ours was written and applied just now (a connection handler may hold one while the
    /// connection is not writable: `NIOHTTP2Handler` does): the windows reported from now on include it.
    func windowUpdateWritten(_ id: HTTP2StreamID, _ increment: Int) {
        if id == .rootStream {
            connectionWindow.updateSent(increment)
        } else {
            streams[id]?.windowUpdateSent(increment)
        }
    }

    // MARK: ChannelHandler

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// A frame of the handlers after the mux (a keepalive PING, a GOAWAY when draining), in NIO's form.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        guard let converted = StreamFrame(frame) else {
            promise?.fail(TunnelHTTP2Error(code: .internalError, message: "the gateway does not send \(frame.payload)"))
            return
        }
        context.write(wrapOutboundOut(converted), promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeAll()
        self.context = nil
        windowGrown = nil   // (which may hold the connection's owner, which holds this mux)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.streamID != .rootStream else {
            inRead = true
            if adaptive != nil, case .ping(let ping, ack: true) = frame.payload, ping == AdaptiveWindow.pingData {
                if let grown = adaptive?.acknowledged(now: .now()) { grow(to: grown) }
                return
            }
            context.fireChannelRead(data)
            return
        }
        guard let payload = StreamFrame.Payload(frame.payload) else { return }
        receive(frame.streamID, payload)
    }

    /// A frame of a stream: from the pipeline, or straight from ``TunnelHTTP2Handler`` (which passes only the
    /// connection's own frames, and its events, down the pipeline).
    func receive(_ id: HTTP2StreamID, _ payload: consuming StreamFrame.Payload) {
        inRead = true
        let stream: HTTP2MuxStream
        if let existing = streams[id] {
            stream = existing
        } else {
            guard isServer, case .headers = payload, id > lastInboundStreamID, let initializer = inboundStreamInitializer else { return }
            lastInboundStreamID = id
            stream = HTTP2MuxStream(mux: self, id: id)
            streams[id] = stream
            initializer(stream)
        }
        if adaptive != nil, case .data = payload,
           adaptive?.received(HTTP2MuxStream.flowControlledSize(payload), now: .now()) == true {
            // Written when the read completes: a write now would run the connection handler's pending events (this
            // frame's stream closing among them, as `NIOHTTP2Handler` delivers them) before the frame reached its stream.
            samplePingDue = true
        }
        switch payload {
        case .headers, .data:
            if !stream.inReadBatch {
                stream.inReadBatch = true
                readBatch.append(stream)
            }
            stream.receive(payload)
        default:
            break   // RST_STREAM arrives as the stream's close event; WINDOW_UPDATE is the connection handler's business
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        let batch = readBatch
        readBatch.removeAll(keepingCapacity: true)
        for stream in batch {
            stream.inReadBatch = false
            stream.readComplete()
        }
        if samplePingDue {
            samplePingDue = false
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenFailure { _ in self.adaptive?.pingFailed() }
            write(StreamFrame(streamID: .rootStream, payload: .ping(AdaptiveWindow.pingData, ack: false)), promise: written)
            flushPending = true
        }
        inRead = false
        if flushPending || flushScheduled {
            flushPending = false
            flushScheduled = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Several events per request: their type is compared first, as a failed `as?` on `Any` costs a full dynamic
        // cast each (`NIOHTTP2StreamCreatedEvent` failed three).
        let type = ObjectIdentifier(Swift.type(of: event))
        guard type == Self.windowUpdated || type == Self.streamClosed || type == Self.bulkWindowChange else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if type == Self.windowUpdated {
            // Two per DATA frame sent or received: the type is known, so no dynamic cast (about 260 instructions).
            let updated = UserEvent.as(event, NIOHTTP2WindowUpdatedEvent.self)!
            if let inbound = updated.inboundWindowSize { inboundWindow(updated.streamID, inbound) }
            return   // the windows are the mux's business: nothing after it needs these (several per request)
        }
        if let closed = UserEvent.as(event, StreamClosedEvent.self) {
            streamClosed(closed.streamID, reason: closed.reason)
        } else if let change = UserEvent.as(event, NIOHTTP2BulkStreamWindowChangeEvent.self) {
            for stream in streams.values { stream.initialWindowChanged(by: change.delta) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A stream closed: cleanly (`reason` `nil`) or reset. Told straight by ``TunnelHTTP2Handler``, or by the
    /// `StreamClosedEvent` of `NIOHTTP2Handler` (the tests' other end).
    func streamClosed(_ id: HTTP2StreamID, reason: HTTP2ErrorCode?) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        stream.close(reason.map { NIOHTTP2Errors.streamClosed(streamID: id, errorCode: $0) })
        if watchesIdle, isIdle { idleSince = .now() }
    }

    /// A stream's or the connection's inbound window, as it is now (straight from ``TunnelHTTP2Handler`` after each
    /// DATA frame, or from a `NIOHTTP2WindowUpdatedEvent`): a WINDOW_UPDATE is written if one is due.
    func inboundWindow(_ id: HTTP2StreamID, _ size: Int) {
        if id == .rootStream {
            if let increment = connectionWindow.reported(size) { windowUpdate(.rootStream, increment) }
        } else {
            streams[id]?.inboundWindowReported(size)
        }
    }

    private static let windowUpdated = ObjectIdentifier(NIOHTTP2WindowUpdatedEvent.self)
    private static let streamClosed = ObjectIdentifier(StreamClosedEvent.self)
    private static let bulkWindowChange = ObjectIdentifier(NIOHTTP2BulkStreamWindowChangeEvent.self)

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            for stream in Array(streams.values) { stream.connectionBecameWritable() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        inRead = false
        closeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream error ends that stream only: the connection handler has reset it, and its close event follows.
        if let streamError = error as? NIOHTTP2Errors.StreamError {
            streams[streamError.streamID]?.failed(streamError.baseError)
            return
        }
        context.fireErrorCaught(error)
    }

    /// The link holds more than the window: every stream's and the connection's target becomes `window`. Each is
    /// opened to it with the WINDOW_UPDATE its next DATA frame brings about (a paused stream's once it consumes again).
    private func grow(to window: Int) {
        windowGrown?(window)
        raiseWindows(to: window)
    }

    /// Starts every window at `window` (at most the maximum), what an earlier connection to the same peer grew to, so
    /// that a reconnection does not start again from the configured window; samples grow it from there. Not a growth
    /// (``windowGrown`` is not told). On connections with a fixed window it does nothing.
    func startGrown(to window: Int) {
        guard let maximum = adaptive?.maximum, window > targetWindow else { return }
        let window = min(window, maximum)
        adaptive = AdaptiveWindow(initial: window, maximum: maximum)
        raiseWindows(to: window)
    }

    private func raiseWindows(to window: Int) {
        targetWindow = window
        connectionWindow.raise(to: window)
        for stream in streams.values { stream.raiseWindow(to: window) }
        for stream in unopened.values { stream.raiseWindow(to: window) }
    }

    /// Writes a WINDOW_UPDATE (flushed now, or with the read being processed).
    func windowUpdate(_ id: HTTP2StreamID, _ increment: Int) {
        write(StreamFrame(streamID: id, payload: .windowUpdate(windowSizeIncrement: increment)), promise: nil)
        flush()
    }

    private func closeAll() {
        let open = Array(streams.values) + Array(unopened.values)
        streams.removeAll()
        unopened.removeAll()
        for stream in open { stream.close(nil, force: true) }
    }
}

/// One HTTP/2 stream of an ``HTTP2StreamMux``: its ID, its windows, and the payloads it holds while paused.
/// Confined to the connection's event loop.
final class HTTP2MuxStream {
    /// The stream's connection's mux. Strong: an owner may outlive the connection and still ask its closed stream
    /// something, which a mux whose handler was removed answers as a closed connection (no channel, not writable).
    /// No cycle outlives the stream: the mux lets go of it when it closes, and closes every stream when the connection
    /// goes. (A weak reference gave the mux a side table of reference counts, which every retain and release of it then
    /// went through, about twenty per request.)
    let mux: HTTP2StreamMux
    /// The stream ID; an outgoing stream takes one at its first write (only then does the peer know the stream).
    private(set) var id: HTTP2StreamID?
    /// Whether the owner validates the header blocks it receives (``HTTP2StreamMux/validatesHeaderBlocks``), kept
    /// here: payloads held while paused are delivered after the connection (and the mux) may be gone.
    let validatesHeaderBlocks: Bool
    /// The owner, kept until the stream closes (the owner keeps the stream too).
    private var delegate: (any HTTP2MuxStreamDelegate)?
    private var window: ReceiveWindow
    private var held = LazyQueue<StreamFrame.Payload>()
    private var paused = false
    private var delivering = false
    /// Closed by the peer cleanly while payloads were still held: closes once they are delivered.
    private var closeAfterDelivery = false
    private(set) var isClosed = false
    /// The first frame (the HEADERS) could not be written: the peer never saw the stream.
    private(set) var firstFrameNotSent = false
    private var unsentBytes = 0
    private var belowWatermark = true
    var inReadBatch = false
    /// The peer connection that counts this stream, told once, when it closes (a reference, not a closure: a
    /// closure was an allocation per stream).
    var countedBy: HTTP2Connection?

    fileprivate init(mux: HTTP2StreamMux, id: HTTP2StreamID?) {
        self.mux = mux
        self.id = id
        validatesHeaderBlocks = mux.validatesHeaderBlocks
        window = ReceiveWindow(target: mux.targetWindow)
    }

    /// Sets the owner; the stream keeps it until it closes.
    func attach(_ owner: any HTTP2MuxStreamDelegate) {
        delegate = owner
    }

    var allocator: ByteBufferAllocator { mux.channel?.allocator ?? ByteBufferAllocator() }
    var eventLoop: (any EventLoop)? { mux.channel?.eventLoop }
    /// The connection the stream is on.
    var connection: (any Channel)? { mux.channel }
    var isActive: Bool { !isClosed }
    var isWritable: Bool { !isClosed && belowWatermark && mux.isConnectionWritable }

    // MARK: Writing

    func write(_ payload: consuming StreamFrame.Payload, promise: EventLoopPromise<Void>? = nil) {
        guard !isClosed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        if case .data(let data) = payload {
            unsentBytes += data.data.readableBytes
            if unsentBytes >= HTTP2StreamMux.highWatermark { belowWatermark = false }
        }
        guard let id else {
            // The first frame opens the stream. If it does not leave this process (the connection is gone, or a
            // GOAWAY or the peer's limit on concurrent streams came first), the connection's handler says so
            // (``HTTP2StreamMux/firstFrameNotSent(_:_:)``): the peer never saw the stream. (A promise per stream
            // told it before: about 1 % of a gateway's instructions per request.)
            guard mux.context != nil else {
                mux.forget(self)
                notSent(ChannelError.ioOnClosedChannel)
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            let id = mux.open(self)
            self.id = id
            mux.write(StreamFrame(streamID: id, payload: payload), promise: promise)
            return
        }
        mux.write(StreamFrame(streamID: id, payload: payload), promise: promise)
    }

    /// The first frame did not leave this process: closes the stream, the peer never saw it.
    fileprivate func notSent(_ error: any Error) {
        guard !isClosed else { return }
        firstFrameNotSent = true
        close(error)
    }

    /// Flushes the connection (even when the stream just closed: writing its last frame may close it before the flush).
    func flush() {
        mux.flush()
    }

    /// Checks a header block the peer sent (``HeaderFields/validate(as:)``) where this stream's connection calls for
    /// it (``validatesHeaderBlocks``).
    func validate(_ block: HeaderFields, as kind: HeaderFields.BlockKind) throws {
        if validatesHeaderBlocks { try block.validate(as: kind) }
    }

    /// Resets the stream (`CANCEL`, or `code`), or closes it quietly if it never opened; its owner is told it closed.
    func reset(_ code: HTTP2ErrorCode = .cancel) {
        guard !isClosed else { return }
        if let id {   // an ID is taken by the first write: the peer knows the stream
            mux.write(StreamFrame(streamID: id, payload: .rstStream(code)), promise: nil)
            mux.flush()
        }
        mux.forget(self)
        close(nil, force: true)
    }

    fileprivate func sent(_ bytes: Int) {
        unsentBytes -= bytes
        if !belowWatermark, unsentBytes <= HTTP2StreamMux.lowWatermark {
            belowWatermark = true
            if mux.isConnectionWritable { delegate?.streamBecameWritable() }
        }
    }

    fileprivate func connectionBecameWritable() {
        if belowWatermark, !isClosed { delegate?.streamBecameWritable() }
    }

    // MARK: Reading

    /// Holds what arrives from now on, and opens no window for it.
    func pauseReading() {
        paused = true
    }

    /// Delivers what was held, then what arrives.
    func resumeReading() {
        guard paused else { return }
        paused = false
        deliverHeld()
    }

    fileprivate func receive(_ payload: consuming StreamFrame.Payload) {
        guard !isClosed else { return }
        // Copied even when passed on at once: a slice waiting in the destination's write queue pins the parser's
        // buffer just as a held one does (with slices, a 1 GiB upload's RSS grew by up to 91 MiB instead of 10).
        let payload = Self.owningItsBytes(payload)
        guard paused || !held.isEmpty else {
            // Consumed at once: the window event that follows the frame opens the window again when due.
            delegate?.streamReceived(payload)
            return
        }
        window.held(Self.flowControlledSize(payload))
        held.append(payload)
    }

    fileprivate func readComplete() {
        // A paused stream delivered nothing in this read.
        guard !isClosed, !paused else { return }
        delegate?.streamReadComplete()
    }

    private func deliverHeld() {
        guard !delivering else { return }
        delivering = true
        defer { delivering = false }
        var consumed = 0
        while !paused, !isClosed, let payload = held.popFirst() {
            consumed += Self.flowControlledSize(payload)
            delegate?.streamReceived(payload)
        }
        if consumed > 0, !isClosed, let increment = window.consumed(consumed), let id { mux.windowUpdate(id, increment) }
        guard !isClosed else { return }
        if held.isEmpty, closeAfterDelivery {
            close(nil)
            return
        }
        delegate?.streamReadComplete()
    }

    fileprivate func inboundWindowReported(_ size: Int) {
        if let increment = window.reported(size), let id { mux.windowUpdate(id, increment) }
    }

    fileprivate func windowUpdateSent(_ increment: Int) {
        window.updateSent(increment)
    }

    fileprivate func raiseWindow(to target: Int) {
        window.raise(to: target)
    }

    fileprivate func initialWindowChanged(by delta: Int) {
        if let increment = window.initialChanged(by: delta), let id { mux.windowUpdate(id, increment) }
    }

    // MARK: Closing

    /// A stream error (reported before the stream's close event).
    fileprivate func failed(_ error: any Error) {
        held.removeAll()
        close(error)
    }

    /// Closed by the peer, the connection's handler or the connection. A clean close by the peer waits for held payloads;
    /// `force` (the connection is gone) drops them.
    fileprivate func close(_ error: (any Error)?, force: Bool = false) {
        guard !isClosed else { return }
        if error == nil, !force, !held.isEmpty {
            closeAfterDelivery = true
            return
        }
        isClosed = true
        held.removeAll()
        let owner = delegate
        delegate = nil
        countedBy?.streamClosed()
        countedBy = nil
        owner?.streamClosed(error)
    }

    // MARK: Helpers

    fileprivate static func flowControlledSize(_ payload: StreamFrame.Payload) -> Int {
        guard case .data(let data) = payload else { return 0 }
        return data.data.readableBytes + (data.paddingBytes.map { $0 + 1 } ?? 0)
    }

    /// A DATA payload copied out of the parser's buffer.
    private static func owningItsBytes(_ payload: consuming StreamFrame.Payload) -> StreamFrame.Payload {
        // Consumed and switched over as consumed: a payload read by a pattern and passed on was copied first.
        switch consume payload {
        case .data(var data):
            if case .byteBuffer(let bytes) = data.data, bytes.readableBytes > 0 {
                var own = ByteBufferAllocator().buffer(capacity: bytes.readableBytes)
                own.writeImmutableBuffer(bytes)
                data.data = .byteBuffer(own)
            }
            return .data(data)
        case let other:
            return other
        }
    }
}

/// An inbound flow-control window kept near its target: a WINDOW_UPDATE is due once the window, counting what is
/// held but not consumed as still in use, is down to three quarters of the target. (At half, a sender across a long
/// link kept three quarters of a window in flight on average, 0.7-0.8 of the window per round trip; gRPC updates at
/// a quarter consumed too.)
struct ReceiveWindow {
    private(set) var target: Int
    /// The window as the connection's handler last reported it (it shrinks as DATA arrives), plus ``pending``.
    private var window: Int?
    /// Received but not consumed yet.
    private var heldBytes = 0
    /// Increments written that the connection's handler has not applied yet: a WINDOW_UPDATE waits in its buffer while the
    /// connection is not writable, and the windows it reports meanwhile leave it out. Counting them keeps a stale report
    /// from opening the window again (stacked, such increments could pass 2^31 - 1, a FLOW_CONTROL_ERROR).
    private var pending = 0

    init(target: Int) {
        self.target = target
    }

    /// The window was reported; returns the increment to send, if one is due.
    mutating func reported(_ size: Int) -> Int? {
        window = size + pending
        return increment()
    }

    /// The connection's handler wrote (and applied) an increment of ours.
    mutating func updateSent(_ increment: Int) {
        pending = max(0, pending - increment)
    }

    mutating func held(_ bytes: Int) {
        heldBytes += bytes
    }

    /// `bytes` of what was held were consumed.
    mutating func consumed(_ bytes: Int) -> Int? {
        heldBytes -= bytes
        return increment()
    }

    /// A larger target (``AdaptiveWindow``), used from the next report or consumption on.
    mutating func raise(to target: Int) {
        self.target = max(self.target, target)
    }

    mutating func initialChanged(by delta: Int) -> Int? {
        guard let window else { return nil }
        self.window = window + delta
        return increment()
    }

    private mutating func increment() -> Int? {
        guard let window else { return nil }
        let open = window + heldBytes
        guard open <= target / 4 * 3 else { return nil }
        let increment = min(target - open, AdaptiveWindow.largestWindow - window)
        guard increment > 0 else { return nil }
        self.window = window + increment
        pending += increment
        return increment
    }
}
