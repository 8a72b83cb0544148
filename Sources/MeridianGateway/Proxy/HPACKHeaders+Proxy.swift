import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The translations between HTTP/1-style heads (what ``ProxyExchange`` and admission work on) and HTTP/2 header
/// blocks, done once per head by ``HTTP2StreamUpstream`` and ``HTTP2StreamDownstream`` instead of by NIO's
/// `HTTP2FramePayloadToHTTP1*Codec`s (which build an intermediate `HTTPHeaders`, lowercase every name into a new
/// string and scan for connection headers several times). Same results as those codecs: pseudo-headers first,
/// lowercase names, no connection-specific fields; `host` and `:authority` map to each other.
extension HPACKHeaders {
    /// A request's header block: `:method`, `:scheme`, `:authority` (from `host`, when there is one), `:path`, then the
    /// regular fields.
    init(proxyingRequest head: HTTPRequestHead, scheme: String) {
        var fields: [(String, String)] = []
        fields.reserveCapacity(head.headers.count + 4)
        fields.append((":method", head.method.rawValue))
        fields.append((":scheme", scheme))
        if let host = head.headers.first(name: "host") { fields.append((":authority", host)) }
        fields.append((":path", head.uri))
        self.init(fields: &fields, regularOf: head.headers, dropHost: true)
    }

    /// A response's header block: `:status`, then the regular fields.
    init(proxyingResponse head: HTTPResponseHead) {
        var fields: [(String, String)] = []
        fields.reserveCapacity(head.headers.count + 2)
        fields.append((":status", String(head.status.code)))
        self.init(fields: &fields, regularOf: head.headers, dropHost: false)
    }

    /// A trailer block.
    init(proxyingTrailers trailers: HTTPHeaders) {
        var fields: [(String, String)] = []
        fields.reserveCapacity(trailers.count + 1)
        self.init(fields: &fields, regularOf: trailers, dropHost: false)
    }

    /// `fields`, then the regular fields of `headers`, lowercase and without the connection-specific ones; a
    /// `traceparent` last. Built from an array whole: `add(name:value:indexing:)` scans each name for non-ASCII bytes
    /// (a String iteration, about 15 instructions a byte), and these names are ASCII (read by the gateway's parsers, or
    /// made by it).
    private init(fields: inout [(String, String)], regularOf headers: HTTPHeaders, dropHost: Bool) {
        var traceparent: String?
        for (name, value) in headers {
            let known = HeaderName.known(name)
            if known?.isConnectionSpecific == true { continue }
            switch known {
            case .host where dropHost: continue
            case .traceparent: traceparent = value
            default: fields.append((HeaderName.lowercased(name), value))
            }
        }
        self.init(fields)
        if let traceparent {
            // A new value on every request (a new span per hop): indexing it would insert it into both ends' HPACK
            // tables and evict the fields that do repeat.
            add(name: "traceparent", value: traceparent, indexing: .nonIndexable)
        }
    }
}

extension HTTPHeaders {
    /// The regular (non-pseudo) fields of a header block (trailers). Built from an array whole: `add(name:value:)`
    /// checks each name for non-ASCII bytes and compares it with `connection` (about 1 % of a gateway's CPU), and names
    /// here were checked where they entered the mesh.
    init(regularFieldsOf block: HPACKHeaders) {
        var fields: [(String, String)] = []
        fields.reserveCapacity(block.count)
        for (name, value, _) in block where name.utf8.first != UInt8(ascii: ":") {
            fields.append((name, value))
        }
        self.init(fields)
    }
}

extension HTTPRequestHead {
    /// The request a header block carries: `host` from `:authority`, and framing for an HTTP/1.1 upstream when the
    /// block names no length: `transfer-encoding: chunked` when a body may follow (the block did not end the stream),
    /// whatever the method, and `content-length: 0` for methods that carry a body when it did. NIO's server codec adds
    /// no framing to a GET, HEAD, DELETE or TRACE; relayed to HTTP/1.1 unframed, such a request's body would be read
    /// by the endpoint as the next request (request smuggling). And the length the block's `content-length` fields
    /// declare (``DeclaredLength/parse(_:into:)``, which throws for a malformed or conflicting value); the head carries
    /// that length as one field, in decimal, where the block's fields were.
    static func proxying(_ block: HPACKHeaders, endStream: Bool) throws -> (head: HTTPRequestHead, contentLength: Int?) {
        // One pass over the block: the pseudo-headers (which come first; one after a regular field is not honoured),
        // then the regular fields, noting `host` and reading `content-length` on the way.
        var method: String?
        var path: String?
        var authority: String?
        var hasHost = false
        var contentLength: Int?
        var fields: [(String, String)] = []
        fields.reserveCapacity(block.count + 1)
        for (name, value, _) in block {
            if name.utf8.first == UInt8(ascii: ":") {
                guard fields.isEmpty else { continue }
                switch name {
                case ":method": method = value
                case ":path": path = value
                case ":authority": authority = value
                default: break
                }
                continue
            }
            if try DeclaredLength.relay(name, value, declared: &contentLength, into: &fields) { continue }
            if !hasHost, name.equalsIgnoringASCIICase("host") { hasHost = true }
            fields.append((name, value))
        }
        guard let method else { throw NIOHTTP2Errors.missingPseudoHeader(":method") }
        guard let path else { throw NIOHTTP2Errors.missingPseudoHeader(":path") }
        let httpMethod = HTTPMethod(rawValue: method)
        if httpMethod != .CONNECT, contentLength == nil {
            switch (endStream, httpMethod) {
            case (false, _): fields.insert(("transfer-encoding", "chunked"), at: 0)
            case (true, .GET), (true, .HEAD), (true, .DELETE), (true, .TRACE): break
            case (true, _): fields.insert(("content-length", "0"), at: 0)
            }
        }
        if let authority, !hasHost { fields.insert(("host", authority), at: 0) }
        return (HTTPRequestHead(version: .http2, method: httpMethod, uri: path, headers: HTTPHeaders(fields)), contentLength)
    }
}

extension HTTPResponseHead {
    /// The response a header block carries, as NIO's client codec builds it: when the response may have a body and
    /// the block names no length, `content-length: 0` (the block ended the stream) or `transfer-encoding: chunked`,
    /// so an HTTP/1.1 client sees the body framed; and the length its `content-length` fields declare, as for a
    /// request (``HTTPRequestHead/proxying(_:endStream:)``).
    static func proxying(_ block: HPACKHeaders, requestMethod: HTTPMethod, endStream: Bool) throws -> (head: HTTPResponseHead, contentLength: Int?) {
        var statusText: String?
        var contentLength: Int?
        var fields: [(String, String)] = []
        fields.reserveCapacity(block.count + 1)
        for (name, value, _) in block {
            if name.utf8.first == UInt8(ascii: ":") {
                if fields.isEmpty, statusText == nil, name == ":status" { statusText = value }
                continue
            }
            if try DeclaredLength.relay(name, value, declared: &contentLength, into: &fields) { continue }
            fields.append((name, value))
        }
        guard let statusText else { throw NIOHTTP2Errors.missingPseudoHeader(":status") }
        guard let code = Int(statusText, radix: 10) else { throw NIOHTTP2Errors.invalidStatusValue(statusText) }
        if code >= 200, code != 204, code != 304, requestMethod != .HEAD, requestMethod != .CONNECT, contentLength == nil {
            fields.append(endStream ? ("content-length", "0") : ("transfer-encoding", "chunked"))
        }
        return (HTTPResponseHead(version: .http2, status: HTTPResponseStatus(statusCode: code), headers: HTTPHeaders(fields)), contentLength)
    }
}
