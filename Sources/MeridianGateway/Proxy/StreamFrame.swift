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
    /// A head or trailers the gateway relays are written from their HTTP/1-style fields as they are, with ``head``:
    /// ``forEachField(_:)`` gives the pseudo-header fields, then the fields (names lowercased as they are sent), without the
    /// connection-specific ones (and, in a request, `host`, sent as `:authority`), and ``TunnelHPACKEncoder`` writes
    /// them as they come (a translated copy made first cost about 2,500 instructions per head).
    struct Headers {
        /// The block's fields; with ``head``, the fields of the head it is written from.
        var headers: HeaderFields
        var endStream: Bool
        /// What the block of a head or trailers has besides their fields, translated.
        var head: Pseudo?

        enum Pseudo {
            /// `:method`, `:scheme`, `:authority` (the value of the first `host` field, when there is one), `:path`.
            case request(method: HTTPMethod, scheme: String, path: String)
            /// `:status`.
            case response(status: Int)
            /// No pseudo-header field.
            case trailers
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

        /// A trailer block (it ends the stream).
        init(trailers: HeaderFields) {
            headers = trailers
            endStream = true
            head = .trailers
        }

        /// Calls `body` with each field of the block as it is sent, in order: its name's and value's bytes and its
        /// name's class (`nil` for a pseudo-header field). A name is given as the head has it: HTTP/2 sends it
        /// lowercased (``withLowercased(_:_:)``), which a sender that remembers what it sent need do only once.
        func forEachField(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>, HeaderName.Known?) -> Void) {
            headers.withBytes { bytes in
                let entries = headers.entries
                func field(_ entry: HeaderFields.Entry) -> (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) {
                    (UnsafeBufferPointer(rebasing: bytes[entry.name]), UnsafeBufferPointer(rebasing: bytes[entry.value]))
                }
                var dropsHost = false
                switch head {
                case nil:
                    for entry in entries {
                        let (name, value) = field(entry)
                        body(name, value, entry.known)
                    }
                    return
                case .request(let method, let scheme, let path):
                    dropsHost = true
                    Self.withUTF8(":method", method.name) { body($0, $1, nil) }
                    Self.withUTF8(":scheme", scheme) { body($0, $1, nil) }
                    if let host = headers.firstIndex(.host) {
                        let value = field(entries[host]).1
                        ":authority".withUTF8Bytes { body($0, value, nil) }
                    }
                    Self.withUTF8(":path", path) { body($0, $1, nil) }
                case .response(let status) where (100...999).contains(status):
                    withUnsafeTemporaryAllocation(byteCount: 3, alignment: 1) { digits in
                        _ = HTTP1HeadWriter.writeStatusDigits(status, to: digits, at: 0)
                        ":status".withUTF8Bytes { body($0, UnsafeBufferPointer(digits.bindMemory(to: UInt8.self)), nil) }
                    }
                case .response(let status):
                    Self.withUTF8(":status", String(status)) { body($0, $1, nil) }
                case .trailers:
                    break
                }
                for entry in entries {
                    let known = entry.known
                    if known?.isConnectionSpecific == true || (dropsHost && known == .host) { continue }
                    let (name, value) = field(entry)
                    body(name, value, known)
                }
            }
        }

        /// The block as it is sent (``forEachField(_:)`` collected).
        var block: HeaderFields {
            guard head != nil else { return headers }
            var block = HeaderFields(reservingFields: headers.count + 4, bytes: headers.bytes.count + 64)
            forEachField { name, value, known in Self.withLowercased(name) { block.append(name: $0, value: value, known: known) } }
            return block
        }

        /// Calls `body` with `name` lowercased (``forEachField(_:)`` gives the names as the head has them).
        @inline(__always)
        static func withLowercased<Result>(_ name: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
            guard name.hasASCIIUppercase else { return body(name) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: name.count) { lowercased in
                name.copyASCIILowercased(to: UnsafeMutableRawPointer(lowercased.baseAddress!))
                return body(UnsafeBufferPointer(lowercased))
            }
        }

        /// Calls `body` with the bytes of `name` and `value`.
        @inline(__always)
        private static func withUTF8(_ name: StaticString, _ value: String, _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Void) {
            name.withUTF8Buffer { name in value.withUTF8Bytes { body(name, $0) } }
        }
    }
}
