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
    init(proxyingRequest head: RequestHead, scheme: String) {
        var fields: [(String, String)] = []
        fields.reserveCapacity(head.headers.count + 4)
        fields.append((":method", head.method.rawValue))
        fields.append((":scheme", scheme))
        if let host = head.headers.first(.host) { fields.append((":authority", host)) }
        fields.append((":path", head.uri))
        self.init(fields: &fields, regularOf: head.headers, dropHost: true)
    }

    /// A response's header block: `:status`, then the regular fields.
    init(proxyingResponse head: ResponseHead) {
        var fields: [(String, String)] = []
        fields.reserveCapacity(head.headers.count + 2)
        fields.append((":status", String(head.status.code)))
        self.init(fields: &fields, regularOf: head.headers, dropHost: false)
    }

    /// A trailer block.
    init(proxyingTrailers trailers: HeaderFields) {
        var fields: [(String, String)] = []
        fields.reserveCapacity(trailers.count + 1)
        self.init(fields: &fields, regularOf: trailers, dropHost: false)
    }

    /// `fields`, then the regular fields of `headers`, lowercase and without the connection-specific ones; a
    /// `traceparent` last. Built from an array whole: `add(name:value:indexing:)` scans each name for non-ASCII bytes
    /// (a String iteration, about 15 instructions a byte), and these names are ASCII (read by the gateway's parsers, or
    /// made by it).
    private init(fields: inout [(String, String)], regularOf headers: HeaderFields, dropHost: Bool) {
        var traceparent: String?
        for field in headers.fields {
            let known = field.known
            if known?.isConnectionSpecific == true { continue }
            switch known {
            case .host where dropHost: continue
            case .traceparent: traceparent = field.value
            default: fields.append((HeaderName.lowercased(field.name), field.value))
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

extension HeaderFields {
    /// The regular (non-pseudo) fields of a header block (trailers).
    init(regularFieldsOf block: HPACKHeaders) {
        var fields: [Field] = []
        fields.reserveCapacity(block.count)
        for (name, value, _) in block where name.utf8.first != UInt8(ascii: ":") {
            fields.append(Field(name: name, value: value))
        }
        self.init(fields: fields)
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
    static func proxying(_ block: HPACKHeaders, endStream: Bool) throws -> (head: RequestHead, contentLength: Int?) {
        // One pass over the block: the pseudo-headers (which come first; one after a regular field is not honoured),
        // then the regular fields, noting `host` and reading `content-length` on the way.
        var method: String?
        var path: String?
        var authority: String?
        var hasHost = false
        var contentLength: Int?
        var fields: [HeaderFields.Field] = []
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
            let field = HeaderFields.Field(name: name, value: value)
            if try DeclaredLength.relay(field, declared: &contentLength, into: &fields) { continue }
            if field.known == .host { hasHost = true }
            fields.append(field)
        }
        guard let method else { throw NIOHTTP2Errors.missingPseudoHeader(":method") }
        guard let path else { throw NIOHTTP2Errors.missingPseudoHeader(":path") }
        let httpMethod = HTTPMethod(rawValue: method)
        if httpMethod != .CONNECT, contentLength == nil {
            switch (endStream, httpMethod) {
            case (false, _): fields.insert(HeaderFields.Field(name: "transfer-encoding", value: "chunked", known: .transferEncoding), at: 0)
            case (true, .GET), (true, .HEAD), (true, .DELETE), (true, .TRACE): break
            case (true, _): fields.insert(HeaderFields.Field(name: "content-length", value: "0", known: .contentLength), at: 0)
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
    static func proxying(_ block: HPACKHeaders, requestMethod: HTTPMethod, endStream: Bool) throws -> (head: ResponseHead, contentLength: Int?) {
        var statusText: String?
        var contentLength: Int?
        var fields: [HeaderFields.Field] = []
        fields.reserveCapacity(block.count + 1)
        for (name, value, _) in block {
            if name.utf8.first == UInt8(ascii: ":") {
                if fields.isEmpty, statusText == nil, name == ":status" { statusText = value }
                continue
            }
            let field = HeaderFields.Field(name: name, value: value)
            if try DeclaredLength.relay(field, declared: &contentLength, into: &fields) { continue }
            fields.append(field)
        }
        guard let statusText else { throw NIOHTTP2Errors.missingPseudoHeader(":status") }
        guard let code = Int(statusText, radix: 10) else { throw NIOHTTP2Errors.invalidStatusValue(statusText) }
        if code >= 200, code != 204, code != 304, requestMethod != .HEAD, requestMethod != .CONNECT, contentLength == nil {
            fields.append(endStream ? HeaderFields.Field(name: "content-length", value: "0", known: .contentLength)
                                    : HeaderFields.Field(name: "transfer-encoding", value: "chunked", known: .transferEncoding))
        }
        return (ResponseHead(version: .http2, status: HTTPResponseStatus(statusCode: code), headers: HeaderFields(fields: fields)), contentLength)
    }
}
