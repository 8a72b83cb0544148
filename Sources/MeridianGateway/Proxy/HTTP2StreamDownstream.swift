import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The owner of an incoming HTTP/2 stream (a tunnel stream or a local h2c stream): it turns the request's frame
/// payloads into parts for its ``DownstreamHandler`` and the response parts that handler writes into frame payloads,
/// and passes the stream's events on to that handler.
///
/// Each head is translated once. It holds the last payload back until the next write or flush, so a response's last
/// DATA frame carries END_STREAM (no empty DATA frame to end the stream), and a head followed by the end at once is
/// one HEADERS frame with END_STREAM: a gRPC *Trailers-Only* answer goes out as one.
final class HTTP2StreamDownstream: HTTP2MuxStreamDelegate {
    let downstream: DownstreamHandler
    let stream: HTTP2MuxStream
    private var held = HeldPayload()
    private var headReceived = false
    /// What is left of the request's declared length.
    private var length = DeclaredLength(contentLength: nil)

    /// Becomes the owner of `stream` and binds `downstream` to it.
    init(downstream: DownstreamHandler, stream: HTTP2MuxStream) {
        self.downstream = downstream
        self.stream = stream
        stream.attach(self)
        downstream.attach(self)
    }

    // MARK: Used by the downstream handler

    func write(_ part: consuming ResponsePart, promise: EventLoopPromise<Void>?) {
        guard !stream.isClosed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        // Consumed, here and in the other writers of parts: a part switched over was copied first (a retain and a
        // release of each of its head's references).
        switch consume part {
        case .head(let head):
            let informational = head.status.code < 200
            let headers = StreamFrame.Payload.headers(.init(response: head))   // (the head's last use: moved, not copied)
            if informational {
                writeHeld()
                stream.write(headers, promise: promise)
                return
            }
            hold(headers, promise: promise)
        case .body(let body):
            hold(.data(.init(data: body)), promise: promise)
        case .end(let trailers):
            let (before, last) = held.end(trailers: trailers)
            if let before { stream.write(before) }
            stream.write(last, promise: promise)
        }
    }

    func flush() {
        writeHeld()
        stream.flush()
    }

    /// Keeps `payload` back for the next write or flush (a write with a promise goes out at once).
    private func hold(_ payload: consuming StreamFrame.Payload, promise: EventLoopPromise<Void>?) {
        if let promise {
            writeHeld()
            stream.write(payload, promise: promise)
        } else if let previous = held.hold(payload) {
            stream.write(previous)
        }
    }

    private func writeHeld() {
        if let payload = held.take() { stream.write(payload) }
    }

    // MARK: HTTP2MuxStreamDelegate

    func streamReceived(_ payload: StreamFrame.Payload) {
        switch payload {
        case .headers(let headers):
            guard headReceived else {
                let head: RequestHead
                do {
                    try stream.validate(headers.headers, as: .request)
                    let contentLength: Int?
                    (head, contentLength) = try RequestHead.proxying(headers.headers, endStream: headers.endStream)
                    length = DeclaredLength(contentLength: contentLength)
                    if headers.endStream { try length.ended() }
                } catch {
                    downstream.streamFailed(error)
                    return
                }
                headReceived = true
                downstream.received(.head(consume head))
                if headers.endStream { downstream.received(.end(nil)) }
                return
            }
            do {
                try stream.validate(headers.headers, as: .trailers)
                try length.ended()
            } catch {
                downstream.streamFailed(error)
                return
            }
            downstream.received(.end(HeaderFields(regularFieldsOf: headers.headers)))
        case .data(let data):
            guard case .byteBuffer(let buffer) = data.data else { return }
            do { try length.received(buffer.readableBytes, endStream: data.endStream) } catch {
                downstream.streamFailed(error)
                return
            }
            if buffer.readableBytes > 0 || !data.endStream { downstream.received(.body(buffer)) }
            if data.endStream { downstream.received(.end(nil)) }
        default:
            break
        }
    }

    func streamReadComplete() {
        downstream.streamReadComplete()
    }

    func streamBecameWritable() {
        downstream.streamBecameWritable()
    }

    func streamClosed(_ error: (any Error)?) {
        _ = held.take()
        downstream.streamClosed(error)
    }
}
