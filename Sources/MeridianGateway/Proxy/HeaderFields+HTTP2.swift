import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The translations between HTTP/1-style heads (what ``ProxyExchange`` and admission work on) and HTTP/2 header
/// blocks, done once per head by ``HTTP2StreamUpstream`` and ``HTTP2StreamDownstream`` instead of by NIO's
/// `HTTP2FramePayloadToHTTP1*Codec`s (which build an intermediate `HTTPHeaders`, lowercase every name into a new
/// string and scan for connection headers several times). Same results as those codecs: pseudo-headers first,
/// lowercase names, no connection-specific fields; `host` and `:authority` map to each other.
extension HeaderFields {
    /// A request's header block: `:method`, `:scheme`, `:authority` (from `host`, when there is one), `:path`, then the
    /// regular fields.
    init(proxyingRequest head: RequestHead, scheme: String) {
        var fields: [Field] = []
        fields.reserveCapacity(head.headers.count + 4)
        fields.append(Field(name: ":method", value: head.method.rawValue, known: nil))
        fields.append(Field(name: ":scheme", value: scheme, known: nil))
        if let host = head.headers.first(.host) { fields.append(Field(name: ":authority", value: host, known: nil)) }
        fields.append(Field(name: ":path", value: head.uri, known: nil))
        Self.appendRegular(of: head.headers, dropHost: true, to: &fields)
        self.init(fields: fields)
    }

    /// A response's header block: `:status`, then the regular fields.
    init(proxyingResponse head: ResponseHead) {
        var fields: [Field] = []
        fields.reserveCapacity(head.headers.count + 1)
        fields.append(Field(name: ":status", value: String(head.status.code), known: nil))
        Self.appendRegular(of: head.headers, dropHost: false, to: &fields)
        self.init(fields: fields)
    }

    /// A trailer block.
    init(proxyingTrailers trailers: HeaderFields) {
        var fields: [Field] = []
        fields.reserveCapacity(trailers.count)
        Self.appendRegular(of: trailers, dropHost: false, to: &fields)
        self.init(fields: fields)
    }

    /// The regular fields of `headers`, lowercase and without the connection-specific ones.
    private static func appendRegular(of headers: HeaderFields, dropHost: Bool, to fields: inout [Field]) {
        for field in headers.fields {
            let known = field.known
            if known?.isConnectionSpecific == true { continue }
            if known == .host && dropHost { continue }
            fields.append(Field(name: HeaderName.lowercased(field.name), value: field.value, known: known))
        }
    }

    /// The regular (non-pseudo) fields of a header block (trailers).
    init(regularFieldsOf block: HeaderFields) {
        self.init(fields: block.fields.filter { $0.name.utf8.first != UInt8(ascii: ":") })
    }
}

extension RequestHead {
    /// The request a header block carries: `host` from `:authority`, and framing for an HTTP/1.1 upstream when the
    /// block names no length: `transfer-encoding: chunked` when a body may follow (the block did not end the stream),
    /// whatever the method, and `content-length: 0` for methods that carry a body when it did. NIO's server codec adds
    /// no framing to a GET, HEAD, DELETE or TRACE; relayed to HTTP/1.1 unframed, such a request's body would be read
    /// by the endpoint as the next request (request smuggling). And the length the block's `content-length` fields
    /// declare (``DeclaredLength/parse(_:into:)``, which throws for a malformed or conflicting value); the head carries
    /// that length as one field, in decimal, where the block's fields were.
    static func proxying(_ block: HeaderFields, endStream: Bool) throws -> (head: RequestHead, contentLength: Int?) {
        // One pass over the block: the pseudo-headers (which come first; one after a regular field is not honoured),
        // then the regular fields, noting `host` and reading `content-length` on the way.
        var method: String?
        var path: String?
        var authority: String?
        var hasHost = false
        var contentLength: Int?
        var fields: [HeaderFields.Field] = []
        fields.reserveCapacity(block.count + 1)
        for field in block.fields {
            if field.name.utf8.first == UInt8(ascii: ":") {
                guard fields.isEmpty else { continue }
                switch field.name {
                case ":method": method = field.value
                case ":path": path = field.value
                case ":authority": authority = field.value
                default: break
                }
                continue
            }
            if try DeclaredLength.relay(field, declared: &contentLength, into: &fields) { continue }
            if field.known == .host { hasHost = true }
            fields.append(field)
        }
        guard let method else { throw NIOHTTP2Errors.missingPseudoHeader(":method") }
        guard let path else { throw NIOHTTP2Errors.missingPseudoHeader(":path") }
        let httpMethod = HTTPMethod(rawValue: method)
        if httpMethod != .CONNECT, contentLength == nil {
            switch (endStream, httpMethod) {
            case (false, _): fields.insert(.chunked, at: 0)
            case (true, .GET), (true, .HEAD), (true, .DELETE), (true, .TRACE): break
            case (true, _): fields.insert(.noContent, at: 0)
            }
        }
        if let authority, !hasHost { fields.insert(HeaderFields.Field(name: "host", value: authority, known: .host), at: 0) }
        return (RequestHead(version: .http2, method: httpMethod, uri: path, headers: HeaderFields(fields: fields)), contentLength)
    }
}

extension ResponseHead {
    /// The response a header block carries, as NIO's client codec builds it: when the response may have a body and
    /// the block names no length, `content-length: 0` (the block ended the stream) or `transfer-encoding: chunked`,
    /// so an HTTP/1.1 client sees the body framed; and the length its `content-length` fields declare, as for a
    /// request (``RequestHead/proxying(_:endStream:)``).
    static func proxying(_ block: HeaderFields, requestMethod: HTTPMethod, endStream: Bool) throws -> (head: ResponseHead, contentLength: Int?) {
        var statusText: String?
        var contentLength: Int?
        var fields: [HeaderFields.Field] = []
        fields.reserveCapacity(block.count + 1)
        for field in block.fields {
            if field.name.utf8.first == UInt8(ascii: ":") {
                if fields.isEmpty, statusText == nil, field.name == ":status" { statusText = field.value }
                continue
            }
            if try DeclaredLength.relay(field, declared: &contentLength, into: &fields) { continue }
            fields.append(field)
        }
        guard let statusText else { throw NIOHTTP2Errors.missingPseudoHeader(":status") }
        guard let code = Int(statusText, radix: 10) else { throw NIOHTTP2Errors.invalidStatusValue(statusText) }
        if code >= 200, code != 204, code != 304, requestMethod != .HEAD, requestMethod != .CONNECT, contentLength == nil {
            fields.append(endStream ? .noContent : .chunked)
        }
        return (ResponseHead(version: .http2, status: HTTPResponseStatus(statusCode: code), headers: HeaderFields(fields: fields)), contentLength)
    }
}
