import NIOCore
import NIOHTTP1

/// Heads (and the last chunk with its trailers) of HTTP/1.x messages as bytes, in the format NIO's
/// `HTTPResponseEncoder` and `HTTPRequestEncoder` write, each into one buffer of the exact size in one pass. NIO's
/// encoders make four checked writes per field (name, `": "`, value, CRLF), each with its own capacity and exclusivity
/// checks: about 8,000 instructions for a response head of seven fields against about 1,500 here.
///
/// Values are written as they are: the gateway relays fields that NIO's decoders or HPACK accepted, and makes the
/// rest itself.
enum HTTP1HeadWriter {
    /// `HTTP/1.x CODE REASON`, the fields, and the empty line.
    static func responseHead(_ head: HTTPResponseHead, allocator: ByteBufferAllocator) -> ByteBuffer {
        let code = head.status.code
        let reason = head.status.reasonPhrase
        let codeText = (100...999).contains(code) ? nil : String(code)
        let codeCount = codeText?.utf8.count ?? 3
        let total = 9 + codeCount + 1 + reason.utf8.count + 2 + fieldsSize(head.headers) + 2
        var buffer = allocator.buffer(capacity: total)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            var at = writeVersion(head.version, to: out, at: 0)
            out[at] = UInt8(ascii: " ")
            at += 1
            if let codeText {
                at = copy(codeText, to: out, at: at)
            } else {
                out[at] = UInt8(ascii: "0") + UInt8(code / 100)
                out[at + 1] = UInt8(ascii: "0") + UInt8(code / 10 % 10)
                out[at + 2] = UInt8(ascii: "0") + UInt8(code % 10)
                at += 3
            }
            out[at] = UInt8(ascii: " ")
            at = copy(reason, to: out, at: at + 1)
            at = writeCRLF(to: out, at: at)
            at = writeFields(head.headers, to: out, at: at)
            return writeCRLF(to: out, at: at)
        }
        return buffer
    }

    /// `METHOD TARGET HTTP/1.x`, the fields, and the empty line.
    static func requestHead(_ head: HTTPRequestHead, allocator: ByteBufferAllocator) -> ByteBuffer {
        let method = head.method.rawValue
        let total = method.utf8.count + 1 + head.uri.utf8.count + 1 + 8 + 2 + fieldsSize(head.headers) + 2
        var buffer = allocator.buffer(capacity: total)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            var at = copy(method, to: out, at: 0)
            out[at] = UInt8(ascii: " ")
            at = copy(head.uri, to: out, at: at + 1)
            out[at] = UInt8(ascii: " ")
            at = writeVersion(head.version, to: out, at: at + 1)
            at = writeCRLF(to: out, at: at)
            at = writeFields(head.headers, to: out, at: at)
            return writeCRLF(to: out, at: at)
        }
        return buffer
    }

    /// The last chunk of a chunked body: `0`, CRLF, the trailer fields, and the empty line.
    static func lastChunk(trailers: HTTPHeaders?, allocator: ByteBufferAllocator) -> ByteBuffer {
        let fields = trailers.map(fieldsSize) ?? 0
        let total = 3 + fields + 2
        var buffer = allocator.buffer(capacity: total)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            out[0] = UInt8(ascii: "0")
            var at = writeCRLF(to: out, at: 1)
            if let trailers { at = writeFields(trailers, to: out, at: at) }
            return writeCRLF(to: out, at: at)
        }
        return buffer
    }

    /// The bytes of `NAME: VALUE` CRLF for every field.
    private static func fieldsSize(_ fields: HTTPHeaders) -> Int {
        var size = 0
        for (name, value) in fields { size += name.utf8.count + value.utf8.count + 4 }
        return size
    }

    private static func writeFields(_ fields: HTTPHeaders, to out: UnsafeMutableRawBufferPointer, at start: Int) -> Int {
        var at = start
        for (name, value) in fields {
            at = copy(name, to: out, at: at)
            out[at] = UInt8(ascii: ":")
            out[at + 1] = UInt8(ascii: " ")
            at = copy(value, to: out, at: at + 2)
            at = writeCRLF(to: out, at: at)
        }
        return at
    }

    /// `HTTP/1.1` for every version but 1.0 (the gateway speaks HTTP/1.1 to HTTP/1.x peers).
    private static func writeVersion(_ version: HTTPVersion, to out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        let minor: UInt8 = version.major == 1 && version.minor == 0 ? 0 : 1
        for (offset, byte) in "HTTP/1.".utf8.enumerated() { out[at + offset] = byte }
        out[at + 7] = UInt8(ascii: "0") + minor
        return at + 8
    }

    private static func writeCRLF(to out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        out[at] = UInt8(ascii: "\r")
        out[at + 1] = UInt8(ascii: "\n")
        return at + 2
    }

    /// Copies the UTF-8 of `string` to `out` at `at`; returns the offset after it.
    private static func copy(_ string: String, to out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        string.withUTF8Bytes { bytes in
            UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + bytes.count)]).copyMemory(from: UnsafeRawBufferPointer(bytes))
            return at + bytes.count
        }
    }
}
