import NIOCore
import NIOHTTP1

/// How an HTTP/1.x message the gateway sends frames its body, written into its head's `content-length`,
/// `transfer-encoding` and `connection` fields:
/// - a response to an HTTP/1.x client, decided by the ``DownstreamHandler`` from the status, the request's method and
///   the client's version (``response(_:requestMethod:)``);
/// - a request to a local HTTP/1.1 endpoint, decided by the ``UpstreamHandler`` from the method and the fields
///   (``request(_:)``).
///
/// Each handler then writes the head (``HTTP1HeadWriter``) and the body framed so (``write(_:_:allocator:to:)``,
/// ``end(_:_:allocator:)``). NIO's `HTTPResponseEncoder` and `HTTPRequestEncoder` are not in the pipelines: the
/// response encoder was not told the request's method there, so it framed the absent body of a response to HEAD that
/// named no length and sent `transfer-encoding: chunked` to HTTP/1.0 clients; and both wrote a head with four checked
/// writes per field and a chunk as three buffers.
enum BodyFraming: Equatable {
    /// No body: a response to HEAD (or a 2xx to CONNECT), a 1xx, 204 or 304 (RFC 9112 section 6.3); a request that
    /// names no length and whose method carries none.
    case none
    /// `content-length`.
    case length
    /// `transfer-encoding: chunked`: each chunk is written framed in one buffer.
    case chunked
    /// A response to an HTTP/1.0 client without a length: the body ends with the connection (`connection: close`).
    case untilClose

    /// Decides the framing of a final response `head` (status 200 or above) and sets its fields to match. One pass
    /// over the fields; the head is changed only where it does not match already.
    static func response(_ head: inout ResponseHead, requestMethod: HTTPMethod) -> BodyFraming {
        var scan = HTTP1HeadWriter.FieldScan(head.headers)
        return response(&head, requestMethod: requestMethod, scan: &scan)
    }

    /// ``response(_:requestMethod:)`` with the fields scanned already (`scan`; its size is dropped when the fields
    /// change).
    static func response(_ head: inout ResponseHead, requestMethod: HTTPMethod, scan: inout HTTP1HeadWriter.FieldScan) -> BodyFraming {
        let (hasLength, hasTransferEncoding) = (scan.hasLength, scan.hasTransferEncoding)
        let status = head.status.code
        if status == 204 || status == 304 || (requestMethod.isCONNECT && (200..<300).contains(status)) {
            if hasTransferEncoding { head.headers.remove(.transferEncoding, invalidating: &scan) }
            if hasLength { head.headers.remove(.contentLength, invalidating: &scan) }
            return .none
        }
        if requestMethod.isHEAD {
            // A HEAD response keeps the length it names (that of the GET's body); no chunked body follows.
            if hasTransferEncoding { head.headers.remove(.transferEncoding, invalidating: &scan) }
            return .none
        }
        if hasLength && !hasTransferEncoding { return .length }
        // With both, `transfer-encoding` frames the body and an intermediary drops `content-length` (RFC 9112 6.3).
        if hasLength { head.headers.remove(.contentLength, invalidating: &scan) }
        scan.size = nil
        if head.version.major > 1 || head.version.minor >= 1 {
            if hasTransferEncoding { head.headers.remove(.transferEncoding) }
            head.headers.append(.chunked)
            return .chunked
        }
        if hasTransferEncoding { head.headers.remove(.transferEncoding) }
        head.headers.replaceOrAdd(name: "connection", value: "close")
        return .untilClose
    }

    /// Decides the framing of a request `head` to an HTTP/1.1 endpoint and sets its fields to match, as NIO's
    /// `HTTPRequestEncoder` did with its automatic framing, but for two cases RFC 9112 decides otherwise:
    /// - with both `transfer-encoding` and `content-length`, `transfer-encoding` frames the body and the length is
    ///   dropped (section 6.3; NIO kept the length). The gateway's decoders do not let such a request in anyway;
    /// - a `transfer-encoding` other than exactly `chunked` (`gzip, chunked`; its last coding is chunked, or the
    ///   decoder refused the request) still frames the body as chunked (NIO sent the body unframed).
    ///
    /// POST, PUT and PATCH without either field get `transfer-encoding: chunked`; other methods have no body
    /// (``none``). A TRACE never has one (its fields are dropped).
    static func request(_ head: inout RequestHead) -> BodyFraming {
        var scan = HTTP1HeadWriter.FieldScan(head.headers)
        return request(&head, scan: &scan)
    }

    /// ``request(_:)`` with the fields scanned already (``HTTP1HeadWriter/unsendable(_:scan:)``; the size is dropped
    /// when the fields change).
    static func request(_ head: inout RequestHead, scan: inout HTTP1HeadWriter.FieldScan) -> BodyFraming {
        let (hasLength, hasTransferEncoding) = (scan.hasLength, scan.hasTransferEncoding)
        if head.method.isTRACE {
            if hasTransferEncoding { head.headers.remove(.transferEncoding, invalidating: &scan) }
            if hasLength { head.headers.remove(.contentLength, invalidating: &scan) }
            return .none
        }
        if hasTransferEncoding {
            if hasLength { head.headers.remove(.contentLength, invalidating: &scan) }
            return .chunked
        }
        if hasLength { return .length }
        switch head.method {
        case .POST, .PUT, .PATCH:
            head.headers.append(.chunked)
            scan.size? += "transfer-encoding: chunked\r\n".utf8.count
            return .chunked
        default:
            return .none
        }
    }

    /// Writes `body` framed as `framing` with `write`: as it is for a length or a body that ends with the
    /// connection, as one chunk (a buffer) when chunked, not at all when the message has no body. An empty body part
    /// writes nothing when chunked (an empty chunk would end the body). `promise` goes with the last write, or, when
    /// nothing is written, with an empty one: it completes after the writes before it, as with NIO's encoders.
    static func write(_ body: IOData, _ framing: BodyFraming, allocator: ByteBufferAllocator, promise: EventLoopPromise<Void>?,
                      to write: (IOData, EventLoopPromise<Void>?) -> Void) {
        switch framing {
        case .none:
            if let promise { write(.byteBuffer(ByteBuffer()), promise) }
        case .length, .untilClose:
            write(body, promise)
        case .chunked:
            guard body.readableBytes > 0 else {
                if let promise { write(.byteBuffer(ByteBuffer()), promise) }
                return
            }
            switch body {
            case .byteBuffer(let buffer):
                write(.byteBuffer(chunk(buffer, allocator: allocator)), promise)
            case .fileRegion:
                var line = allocator.buffer(capacity: 18)
                line.writeString(String(body.readableBytes, radix: 16))
                line.writeStaticString("\r\n")
                write(.byteBuffer(line), nil)
                write(body, nil)
                write(.byteBuffer(allocator.buffer(staticString: "\r\n")), promise)
            }
        }
    }

    /// What ends a body framed as `framing`: the last chunk with the trailers when chunked (trailers are dropped
    /// otherwise: HTTP/1.1 has nowhere to put them), nothing else.
    static func end(_ trailers: HeaderFields?, _ framing: BodyFraming, allocator: ByteBufferAllocator) -> ByteBuffer? {
        framing == .chunked ? HTTP1HeadWriter.lastChunk(trailers: trailers, allocator: allocator) : nil
    }

    /// `bytes` as one chunk: the size in hexadecimal, CRLF, the bytes, CRLF (as NIO's encoder writes it, in three
    /// buffers). Written in one pass into a buffer of the exact size.
    static func chunk(_ bytes: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var chunk = allocator.buffer(capacity: chunkSize(bytes.readableBytes))
        appendChunk(bytes, to: &chunk)
        return chunk
    }

    /// The size of a chunk of `count` bytes, framing included.
    private static func chunkSize(_ count: Int) -> Int {
        var digits = 1
        while count >> (4 * digits) != 0 { digits += 1 }
        return digits + 2 + count + 2
    }

    /// Writes `bytes` as one chunk (``chunk(_:allocator:)``) at the end of `buffer`.
    static func appendChunk(_ bytes: ByteBuffer, to buffer: inout ByteBuffer) {
        let count = bytes.readableBytes
        let total = chunkSize(count)
        let digits = total - count - 4
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            for index in 0..<digits {
                let value = UInt8(truncatingIfNeeded: count >> (4 * (digits - 1 - index))) & 0xf
                out[index] = value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
            }
            out[digits] = UInt8(ascii: "\r")
            out[digits + 1] = UInt8(ascii: "\n")
            bytes.withUnsafeReadableBytes { payload in
                UnsafeMutableRawBufferPointer(rebasing: out[(digits + 2)..<(digits + 2 + count)]).copyMemory(from: payload)
            }
            out[total - 2] = UInt8(ascii: "\r")
            out[total - 1] = UInt8(ascii: "\n")
            return total
        }
    }
}

/// The request side of an HTTP/1.1 connection to a local endpoint, used by its ``UpstreamHandler`` in place of
/// NIO's `HTTPRequestEncoder` and `NIOHTTPRequestHeadersValidator`: each part the handler sends is checked, framed and written as bytes, without a hop
/// through the pipeline and a dynamic cast per handler and part.
/// - **Checked** (``HTTP1HeadWriter/unsendable(_:)-(RequestHead)``): what HTTP/1.1 cannot carry is not sent, and
///   ``encode(_:allocator:promise:write:)`` throws an ``UnsendableRequest`` naming the field, before anything of the
///   part is written or the framing changes (a refused head leaves the connection as clean as it was). Trailers are
///   checked only when they are sent (a chunked body).
/// - **Framed** (``BodyFraming/request(_:)``), the head in one buffer (``HTTP1HeadWriter``), each chunk in one.
/// (The ``UpstreamHandler`` notes each head's method, so that its ``HTTP1Parser`` knows a response to HEAD has no
/// body.)
struct HTTP1RequestEncoder {
    private var framing = BodyFraming.none

    mutating func encode(_ part: RequestPart, allocator: ByteBufferAllocator, promise: EventLoopPromise<Void>?,
                         write: (IOData, EventLoopPromise<Void>?) -> Void) throws(UnsendableRequest) {
        switch part {
        case .head(let head):
            try encodeHead(head, version: nil, allocator: allocator, promise: promise, write: write)
        case .body(let body):
            BodyFraming.write(body, framing, allocator: allocator, promise: promise, to: write)
        case .end(let trailers):
            if framing == .chunked, let trailers, let refusal = HTTP1HeadWriter.unsendable(trailers) { throw refusal }
            let end = BodyFraming.end(trailers, framing, allocator: allocator)
            framing = .none
            if let end {
                write(.byteBuffer(end), promise)
            } else if let promise {
                write(.byteBuffer(ByteBuffer()), promise)   // completes after what came before
            }
        }
    }

    /// A head, its version set to `version` when one is given: copied only here, where the check and the framing may
    /// change it (``ProxyExchange`` writes each attempt's head without making a part of it).
    mutating func encodeHead(_ head: consuming RequestHead, version: HTTPVersion?, allocator: ByteBufferAllocator, promise: EventLoopPromise<Void>?,
                             write: (IOData, EventLoopPromise<Void>?) -> Void) throws(UnsendableRequest) {
        // (Consumed, and changed in place: a head taken borrowed was copied here to be changed.)
        if let version { head.version = version }
        var scan = HTTP1HeadWriter.FieldScan()
        if let refusal = HTTP1HeadWriter.unsendable(&head, scan: &scan) { throw refusal }
        framing = BodyFraming.request(&head, scan: &scan)
        write(.byteBuffer(HTTP1HeadWriter.requestHead(head, fieldsSize: scan.size, allocator: allocator)), promise)
    }
}

/// A request part HTTP/1.1 cannot carry to an endpoint (``HTTP1HeadWriter/unsendable(_:)-(RequestHead)``): the
/// client's error, answered `400 invalid_field` naming `field`; it says nothing about the endpoint.
struct UnsendableRequest: Error, Equatable, CustomStringConvertible {
    var field: String
    var message: String
    var description: String { message }
}

extension HeaderFields {
    /// Removes the fields that are `known` (a framing decision drops them): the size `scan` counted no longer holds.
    fileprivate mutating func remove(_ known: HeaderName.Known, invalidating scan: inout HTTP1HeadWriter.FieldScan) {
        remove(known)
        scan.size = nil
    }
}
