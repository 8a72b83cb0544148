import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The translations between HTTP/2 header blocks and HTTP/1-style heads (what ``ProxyExchange`` and admission work
/// on), done once per head by ``HTTP2StreamUpstream`` and ``HTTP2StreamDownstream`` instead of by NIO's
/// `HTTP2FramePayloadToHTTP1*Codec`s (which build an intermediate `HTTPHeaders`, lowercase every name into a new
/// string and scan for connection headers several times). Same results as those codecs: pseudo-headers first,
/// lowercase names, no connection-specific fields; `host` and `:authority` map to each other. (A head becomes a block
/// as the encoder writes it: ``StreamFrame/Headers``.)
extension HeaderFields {
    /// The regular (non-pseudo) fields of a header block (trailers).
    init(regularFieldsOf block: HeaderFields) {
        self = block
        let bytes = block.bytes
        keepEntries { entry in entry.nameCount == 0 || bytes[Int(entry.nameStart)] != UInt8(ascii: ":") }
    }
}

extension HeaderFields {
    /// A header block's regular fields, for its translation to a head, in one pass: `pseudo` is called with each
    /// pseudo-header's name, value and entry while no regular field has come (one after a regular field is not
    /// honoured); the `content-length` fields are read, and the first kept with the value checked
    /// (``DeclaredLength/Relay``); every other field is kept as it is. The fields share the block's bytes.
    fileprivate static func regularFields(
        of block: HeaderFields,
        pseudo: (_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>, _ entry: Entry) throws -> Void
    ) throws -> (fields: HeaderFields, contentLength: Int?) {
        var length = DeclaredLength.Relay()
        var entries: [Entry] = []
        entries.reserveCapacity(block.count + 1)
        try block.withBytes { bytes in
            for entry in block.entries {
                let name = UnsafeBufferPointer(rebasing: bytes[entry.name])
                if name.first == UInt8(ascii: ":") {
                    if entries.isEmpty { try pseudo(name, UnsafeBufferPointer(rebasing: bytes[entry.value]), entry) }
                    continue
                }
                if try length.take(entry, of: bytes, into: &entries) { continue }
                entries.append(entry)
            }
        }
        var fields = HeaderFields(bytes: block.bytes, entries: entries)
        length.apply(to: &fields)
        return (fields, length.declared)
    }
}

extension RequestHead {
    /// The request a header block carries: `host` from `:authority`, and framing for an HTTP/1.1 upstream when the
    /// block names no length: `transfer-encoding: chunked` when a body may follow (the block did not end the stream),
    /// whatever the method, and `content-length: 0` for methods that carry a body when it did. NIO's server codec adds
    /// no framing to a GET, HEAD, DELETE or TRACE; relayed to HTTP/1.1 unframed, such a request's body would be read
    /// by the endpoint as the next request (request smuggling). And the length the block's `content-length` fields
    /// declare (``DeclaredLength/parse(bytes:into:)``, which throws for a malformed or conflicting value); the head carries
    /// that length as one field, in decimal, where the block's fields were.
    ///
    /// The head's fields are the block's entries (its bytes are shared, not copied), minus the pseudo-headers.
    static func proxying(_ block: HeaderFields, endStream: Bool) throws -> (head: RequestHead, contentLength: Int?) {
        var method: HTTPMethod?
        var path: String?
        var authority: Range<Int>?
        var (fields, contentLength) = try HeaderFields.regularFields(of: block) { name, value, entry in
            if name.equals(":method") {
                method = HTTPMethod(named: UnsafeRawBufferPointer(value))
            } else if name.equals(":path") {
                path = String(decoding: value, as: UTF8.self)
            } else if name.equals(":authority") {
                authority = entry.value
            }
        }
        guard let httpMethod = method else { throw NIOHTTP2Errors.missingPseudoHeader(":method") }
        guard let path else { throw NIOHTTP2Errors.missingPseudoHeader(":path") }
        let hasHost = fields.firstIndex(.host) != nil
        if !httpMethod.isCONNECT, contentLength == nil {
            switch (endStream, httpMethod) {
            case (false, _): fields.insert(.chunked, at: 0)
            case (true, .GET), (true, .HEAD), (true, .DELETE), (true, .TRACE): break
            case (true, _): fields.insert(.noContent, at: 0)
            }
        }
        if let authority, !hasHost { fields.insert(name: "host", valueAt: authority, known: .host, at: 0) }
        return (RequestHead(version: .http2, method: httpMethod, uri: path, headers: fields), contentLength)
    }
}

extension ResponseHead {
    /// The response a header block carries, as NIO's client codec builds it: when the response may have a body and
    /// the block names no length, `content-length: 0` (the block ended the stream) or `transfer-encoding: chunked`,
    /// so an HTTP/1.1 client sees the body framed; and the length its `content-length` fields declare, as for a
    /// request (``RequestHead/proxying(_:endStream:)``).
    static func proxying(_ block: HeaderFields, requestMethod: HTTPMethod, endStream: Bool) throws -> (head: ResponseHead, contentLength: Int?) {
        var code: Int?
        var status: Range<Int>?
        var (fields, contentLength) = try HeaderFields.regularFields(of: block) { name, value, entry in
            if status == nil, name.equals(":status") {
                status = entry.value
                code = Self.statusCode(value)
            }
        }
        guard let status else { throw NIOHTTP2Errors.missingPseudoHeader(":status") }
        guard let code else { throw NIOHTTP2Errors.invalidStatusValue(block.withBytes { String(decoding: $0[status], as: UTF8.self) }) }
        if code >= 200, code != 204, code != 304, !requestMethod.isHEAD, !requestMethod.isCONNECT, contentLength == nil {
            fields.append(endStream ? .noContent : .chunked)
        }
        return (ResponseHead(version: .http2, status: HTTPResponseStatus(statusCode: code), headers: fields), contentLength)
    }

    /// What `Int(_:radix: 10)` reads in a `:status` value (an optional sign, then decimal digits), without a string.
    private static func statusCode(_ value: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = 0
        var negative = false
        if let sign = value.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            index = 1
        }
        guard index < value.count else { return nil }
        var code = 0
        while index < value.count {
            let byte = value[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = code.multipliedReportingOverflow(by: 10)
            let digit = Int(byte - UInt8(ascii: "0"))
            let (next, overflow2) = negative ? times10.subtractingReportingOverflow(digit) : times10.addingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            code = next
            index += 1
        }
        return code
    }
}
