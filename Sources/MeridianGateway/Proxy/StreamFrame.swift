import NIOCore
import NIOHPACK
import NIOHTTP1
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
    ///
    /// A head the gateway relays is written from its HTTP/1-style fields as they are, with ``head``:
    /// ``TunnelHPACKEncoder`` writes the pseudo-header fields, then the fields lowercased, without the
    /// connection-specific ones (and, in a request, `host`, sent as `:authority`). The block is the same as
    /// ``HeaderFields/init(proxyingRequest:scheme:)`` or ``HeaderFields/init(proxyingResponse:)`` make (``block``);
    /// making that copy first cost about 2,500 instructions per head.
    struct Headers {
        /// The block's fields; with ``head``, the fields of the head it is written from.
        var headers: HeaderFields
        var endStream: Bool
        /// What a head's block has besides its fields.
        var head: Pseudo?

        enum Pseudo {
            /// `:method`, `:scheme`, `:authority` (the value of the first `host` field, when there is one), `:path`.
            case request(method: HTTPMethod, scheme: String, path: String)
            /// `:status`.
            case response(status: Int)
        }

        init(headers: HeaderFields, endStream: Bool = false) {
            self.headers = headers
            self.endStream = endStream
        }

        /// A request head's block.
        init(request: RequestHead, scheme: String) {
            headers = request.headers
            endStream = false
            head = .request(method: request.method, scheme: scheme, path: request.uri)
        }

        /// A response head's block.
        init(response: ResponseHead) {
            headers = response.headers
            endStream = false
            head = .response(status: Int(response.status.code))
        }

        /// The block as it is sent.
        var block: HeaderFields {
            switch head {
            case nil: headers
            case .request(let method, let scheme, let path):
                HeaderFields(proxyingRequest: RequestHead(version: .http1_1, method: method, uri: path, headers: headers), scheme: scheme)
            case .response(let status):
                HeaderFields(proxyingResponse: ResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers))
            }
        }
    }
}
