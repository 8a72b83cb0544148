import NIOCore
import NIOHPACK
import NIOHTTP2

/// A frame as ``HTTP2StreamMux`` and its streams' owners write it to ``TunnelHTTP2Handler``, and (its payload) as the
/// handler passes a stream's frames to the mux: NIO's `HTTP2Frame`, but a header block is ``HeaderFields``, as
/// ``TunnelHPACKDecoder`` reads it and ``TunnelHPACKEncoder`` writes it. With NIO's `HPACKHeaders` in between, each
/// block was built twice per gateway (an array of pairs, then `HPACKHeaders`' own array) and translated once more to
/// or from a head.
///
/// The handlers above the mux (idle timeout, GOAWAY on drain, keepalive PINGs) still speak `HTTP2Frame` for the
/// connection's own frames; the mux translates those (``init(_:)``).
struct StreamFrame {
    var streamID: HTTP2StreamID
    var payload: Payload

    init(streamID: HTTP2StreamID, payload: Payload) {
        self.streamID = streamID
        self.payload = payload
    }

    /// NIO's frame (from the handlers above the mux, or a test), `nil` for a payload the gateway does not send.
    init?(_ frame: HTTP2Frame) {
        guard let payload = Payload(frame.payload) else { return nil }
        self.init(streamID: frame.streamID, payload: payload)
    }

    enum Payload {
        case headers(Headers)
        case data(HTTP2Frame.FramePayload.Data)
        case rstStream(HTTP2ErrorCode)
        case windowUpdate(windowSizeIncrement: Int)
        case ping(HTTP2PingData, ack: Bool)
        case goAway(lastStreamID: HTTP2StreamID, errorCode: HTTP2ErrorCode, opaqueData: ByteBuffer?)

        init?(_ payload: HTTP2Frame.FramePayload) {
            switch payload {
            case .headers(let headers):
                self = .headers(Headers(headers: HeaderFields(headers.headers.map { ($0.name, $0.value) }), endStream: headers.endStream))
            case .data(let data): self = .data(data)
            case .rstStream(let code): self = .rstStream(code)
            case .windowUpdate(let increment): self = .windowUpdate(windowSizeIncrement: increment)
            case .ping(let data, let ack): self = .ping(data, ack: ack)
            case .goAway(let last, let code, let opaque): self = .goAway(lastStreamID: last, errorCode: code, opaqueData: opaque)
            default: return nil
            }
        }
    }

    /// A header block: pseudo-header fields first (their names start with `:`), then the regular ones.
    struct Headers {
        var headers: HeaderFields
        var endStream: Bool

        init(headers: HeaderFields, endStream: Bool = false) {
            self.headers = headers
            self.endStream = endStream
        }
    }
}
