import NIOCore
import NIOHTTP1

/// How a response to an HTTP/1.x client frames its body, decided by the ``DownstreamHandler`` from the status, the
/// request's method and the client's version, and written into the head's `content-length`, `transfer-encoding` and
/// `connection` fields; the handler then writes the head (``HTTP1HeadWriter``) and the body framed so. (NIO's
/// `HTTPResponseEncoder` is not in the pipeline: it was not told the request's method there, so it used to frame the
/// absent body of a response to HEAD that named no length, and sent `transfer-encoding: chunked` to HTTP/1.0 clients.)
enum ResponseFraming: Equatable {
    /// No body: a response to HEAD (or a 2xx to CONNECT), a 1xx, 204 or 304 (RFC 9112 section 6.3).
    case none
    /// `content-length`.
    case length
    /// `transfer-encoding: chunked`; the ``DownstreamHandler`` writes each chunk framed in one buffer.
    case chunked
    /// An HTTP/1.0 client and no length: the body ends with the connection (`connection: close`).
    case untilClose

    /// Decides the framing of a final response `head` (status 200 or above) and sets its fields to match. One pass
    /// over the fields; the head is changed only where it does not match already.
    static func frame(_ head: inout HTTPResponseHead, requestMethod: HTTPMethod) -> ResponseFraming {
        var hasLength = false
        var hasTransferEncoding = false
        for (name, _) in head.headers {
            switch HeaderName.known(name) {
            case .contentLength: hasLength = true
            case .transferEncoding: hasTransferEncoding = true
            default: break
            }
        }
        let status = head.status.code
        if status == 204 || status == 304 || (requestMethod == .CONNECT && (200..<300).contains(status)) {
            if hasTransferEncoding { head.headers.remove(name: "transfer-encoding") }
            if hasLength { head.headers.remove(name: "content-length") }
            return .none
        }
        if requestMethod == .HEAD {
            // A HEAD response keeps the length it names (that of the GET's body); no chunked body follows.
            if hasTransferEncoding { head.headers.remove(name: "transfer-encoding") }
            return .none
        }
        if hasLength && !hasTransferEncoding { return .length }
        // With both, `transfer-encoding` frames the body and an intermediary drops `content-length` (RFC 9112 6.3).
        if hasLength { head.headers.remove(name: "content-length") }
        if head.version.major > 1 || head.version.minor >= 1 {
            if hasTransferEncoding {
                head.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
            } else {
                head.headers.add(name: "transfer-encoding", value: "chunked")
            }
            return .chunked
        }
        if hasTransferEncoding { head.headers.remove(name: "transfer-encoding") }
        head.headers.replaceOrAdd(name: "connection", value: "close")
        return .untilClose
    }

    /// `bytes` as one chunk: the size in hexadecimal, CRLF, the bytes, CRLF (as NIO's encoder writes it, in three
    /// buffers). Written in one pass into a buffer of the exact size.
    static func chunk(_ bytes: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let count = bytes.readableBytes
        var digits = 1
        while count >> (4 * digits) != 0 { digits += 1 }
        let total = digits + 2 + count + 2
        var chunk = allocator.buffer(capacity: total)
        chunk.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
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
        return chunk
    }
}
