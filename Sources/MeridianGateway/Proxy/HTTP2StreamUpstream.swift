import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The owner of an outgoing HTTP/2 stream (to a peer's tunnel or a local h2c endpoint): it turns the request parts
/// its ``UpstreamHandler`` writes into frame payloads and the response's frame payloads into parts, and passes the
/// stream's events on to that handler.
///
/// Each head is translated as the tunnel's encoder writes it (``StreamFrame/Headers/init(request:scheme:)``). It holds the last payload back
/// until the next write or flush, so a request without a body is one HEADERS frame with END_STREAM and a body's last
/// DATA frame carries END_STREAM.
final class HTTP2StreamUpstream: HTTP2MuxStreamDelegate {
    let upstream: UpstreamHandler
    private let scheme: String
    private(set) var stream: HTTP2MuxStream?
    private var held = HeldPayload()
    private var requestMethod: HTTPMethod = .GET
    private var finalHeadReceived = false
    /// What is left of the response's declared length.
    private var length = DeclaredLength(contentLength: nil)

    init(upstream: UpstreamHandler, scheme: String = "https") {
        self.upstream = upstream
        self.scheme = scheme
    }

    /// Opens the stream on `mux` (its ID is taken at the first write) and binds the handler to it.
    func open(on mux: HTTP2StreamMux) -> HTTP2MuxStream {
        let stream = mux.makeStream(self)
        self.stream = stream
        upstream.attach(self)
        return stream
    }

    /// The request's HEADERS could not be written (the peer's GOAWAY arrived first): the stream was not processed,
    /// as good as refused, so the request may go elsewhere, a POST too.
    var headersNotSent: Bool { stream?.firstFrameNotSent ?? false }

    // MARK: Used by the upstream handler

    func write(_ part: consuming RequestPart) {
        guard let stream else { return }
        switch consume part {
        case .head(let head):
            writeHead(head)
        case .body(let body):
            hold(.data(.init(data: body)), stream)
        case .end(let trailers):
            let (before, last) = held.end(trailers: trailers)
            if let before { stream.write(before) }
            stream.write(last)
        }
    }

    func writeHead(_ head: consuming RequestHead) {
        guard let stream else { return }
        requestMethod = head.method
        hold(.headers(.init(request: head, scheme: scheme)), stream)
    }

    func flush() {
        guard let stream else { return }
        if let payload = held.take() { stream.write(payload) }
        stream.flush()
    }

    private func hold(_ payload: consuming StreamFrame.Payload, _ stream: HTTP2MuxStream) {
        if let previous = held.hold(payload) { stream.write(previous) }
    }

    // MARK: HTTP2MuxStreamDelegate

    func streamReceived(_ payload: StreamFrame.Payload) {
        switch payload {
        case .headers(let headers):
            guard finalHeadReceived else {
                let head: ResponseHead
                do {
                    try stream?.validate(headers.headers, as: .response)
                    let contentLength: Int?
                    (head, contentLength) = try ResponseHead.proxying(headers.headers, requestMethod: requestMethod, endStream: headers.endStream)
                    if head.status.code >= 200 {
                        length = DeclaredLength(contentLength: contentLength, bodyless: requestMethod.isHEAD || head.status.code == 304)
                        if headers.endStream { try length.ended() }
                    }
                } catch {
                    upstream.streamFailed(error)
                    return
                }
                guard head.status.code >= 200 else {
                    upstream.received(.head(head))   // informational
                    return
                }
                finalHeadReceived = true
                upstream.received(.head(consume head))
                if headers.endStream { upstream.received(.end(nil)) }
                return
            }
            do {
                try stream?.validate(headers.headers, as: .trailers)
                try length.ended()
            } catch {
                upstream.streamFailed(error)
                return
            }
            upstream.received(.end(HeaderFields(regularFieldsOf: headers.headers)))
        case .data(let data):
            guard case .byteBuffer(let buffer) = data.data else { return }
            do { try length.received(buffer.readableBytes, endStream: data.endStream) } catch {
                upstream.streamFailed(error)
                return
            }
            if buffer.readableBytes > 0 || !data.endStream { upstream.received(.body(buffer)) }
            if data.endStream { upstream.received(.end(nil)) }
        default:
            break
        }
    }

    func streamReadComplete() {
        upstream.streamReadComplete()
    }

    func streamBecameWritable() {
        upstream.streamBecameWritable()
    }

    func streamClosed(_ error: (any Error)?) {
        _ = held.take()
        upstream.streamClosed(error)
    }
}
