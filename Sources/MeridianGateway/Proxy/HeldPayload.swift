import NIOCore
import NIOHTTP2

/// The last frame payload written to an HTTP/2 stream, held back until the next write or flush, so that the end of
/// the message rides on it: a head followed at once by the end is one HEADERS frame with END_STREAM (a request
/// without a body, a gRPC Trailers-Only answer), and a body's last DATA frame carries END_STREAM instead of an empty
/// DATA frame after it. Shared by ``HTTP2StreamUpstream`` and ``HTTP2StreamDownstream``.
struct HeldPayload {
    private var payload: StreamFrame.Payload?

    /// Holds `payload`; returns the one held before, to be written now.
    mutating func hold(_ payload: consuming StreamFrame.Payload) -> StreamFrame.Payload? {
        let previous = self.payload.take()
        self.payload = consume payload
        return previous
    }

    /// The held payload, to be written now; nothing is held afterwards.
    mutating func take() -> StreamFrame.Payload? {
        payload.take()
    }

    /// The end of the message: `before` (the held payload, when the end cannot ride on it) then `last`, which has
    /// END_STREAM: the trailers (HTTP/1-style: translated as they are written), else the held HEADERS or DATA, else an
    /// empty DATA frame.
    mutating func end(trailers: consuming HeaderFields?) -> (before: StreamFrame.Payload?, last: StreamFrame.Payload) {
        if let trailers = consume trailers { return (take(), .headers(.init(trailers: trailers))) }
        switch take() {
        case .headers(var headers):
            headers.endStream = true
            return (nil, .headers(headers))
        case .data(var data):
            data.endStream = true
            return (nil, .data(data))
        case let other:
            return (other, .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
        }
    }
}
