import NIOCore
import NIOHTTP1

/// Heads (and the last chunk with its trailers) of HTTP/1.x messages as bytes, in the format NIO's
/// `HTTPResponseEncoder` and `HTTPRequestEncoder` write, each into one buffer of the exact size in one pass. NIO's
/// encoders make four checked writes per field (name, `": "`, value, CRLF), each with its own capacity and exclusivity
/// checks: about 8,000 instructions for a response head of seven fields against about 1,500 here.
///
/// Values are written as they are: the gateway relays fields that its ``HTTP1Parser`` or HPACK accepted, and makes
/// the rest itself.
enum HTTP1HeadWriter {
    /// `HTTP/1.x CODE REASON`, the fields, and the empty line. `fieldsSize`: the fields' ``FieldScan/size``, when a
    /// scan for the framing has it already.
    /// `reserving`: room left after the head (for a body copied after it).
    static func responseHead(_ head: ResponseHead, fieldsSize: Int? = nil, reserving room: Int = 0, allocator: ByteBufferAllocator) -> ByteBuffer {
        let code = head.status.code
        let reason = head.status.reasonPhrase
        let codeText = (100...999).contains(code) ? nil : String(code)
        let codeCount = codeText?.utf8.count ?? 3
        let total = 9 + codeCount + 1 + reason.utf8.count + 2 + (fieldsSize ?? Self.fieldsSize(head.headers)) + 2
        var buffer = allocator.buffer(capacity: total + room)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            var at = writeVersion(head.version, to: out, at: 0)
            out[at] = UInt8(ascii: " ")
            at += 1
            at = codeText.map { $0.copyUTF8(to: out, at: at) } ?? writeStatusDigits(Int(code), to: out, at: at)
            out[at] = UInt8(ascii: " ")
            at = reason.copyUTF8(to: out, at: at + 1)
            at = writeCRLF(to: out, at: at)
            at = writeFields(head.headers, to: out, at: at)
            return writeCRLF(to: out, at: at)
        }
        return buffer
    }

    /// A status code of three digits (100-999) written at `at`; returns the index after it.
    static func writeStatusDigits(_ code: Int, to out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        precondition((100...999).contains(code))
        out[at] = UInt8(ascii: "0") + UInt8(code / 100)
        out[at + 1] = UInt8(ascii: "0") + UInt8(code / 10 % 10)
        out[at + 2] = UInt8(ascii: "0") + UInt8(code % 10)
        return at + 3
    }

    /// `METHOD TARGET HTTP/1.x`, the fields, and the empty line (`fieldsSize` as for ``responseHead(_:fieldsSize:allocator:)``).
    static func requestHead(_ head: RequestHead, fieldsSize: Int? = nil, allocator: ByteBufferAllocator) -> ByteBuffer {
        let method = head.method.name
        let total = method.utf8.count + 1 + head.uri.utf8.count + 1 + 8 + 2 + (fieldsSize ?? Self.fieldsSize(head.headers)) + 2
        var buffer = allocator.buffer(capacity: total)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            var at = method.copyUTF8(to: out, at: 0)
            out[at] = UInt8(ascii: " ")
            at = head.uri.copyUTF8(to: out, at: at + 1)
            out[at] = UInt8(ascii: " ")
            at = writeVersion(head.version, to: out, at: at + 1)
            at = writeCRLF(to: out, at: at)
            at = writeFields(head.headers, to: out, at: at)
            return writeCRLF(to: out, at: at)
        }
        return buffer
    }

    /// The last chunk of a chunked body: `0`, CRLF, the trailer fields, and the empty line.
    static func lastChunk(trailers: HeaderFields?, allocator: ByteBufferAllocator) -> ByteBuffer {
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

    // MARK: What may be sent

    /// Why a request head (or its trailers) cannot be sent to an HTTP/1.1 endpoint as it is, or `nil`; the target is
    /// percent-encoded where it has to be. What NIO's `NIOHTTPRequestHeadersValidator` refused is refused here too,
    /// but for a target whose bytes only need percent-encoding (`"<>\^`{|}` and non-ASCII, which browsers and h2
    /// clients send raw and RFC 9112 does not allow on the request line): it is encoded, as a browser would, instead
    /// of refused. Refused: a method or field name that is not a token, a target with a space or a control character,
    /// a value with a control character but HTAB (a CR or LF would smuggle a field or a request into the endpoint's
    /// stream). The bytes are read where they are, once.
    static func unsendable(_ head: inout RequestHead) -> UnsendableRequest? {
        var scan = FieldScan()
        return unsendable(&head, scan: &scan)
    }

    /// ``unsendable(_:)-(RequestHead)``, and in the same pass over the fields what ``BodyFraming/request(_:scan:)``
    /// and ``requestHead(_:fieldsSize:allocator:)`` need of them (`scan`).
    static func unsendable(_ head: inout RequestHead, scan: inout FieldScan) -> UnsendableRequest? {
        if case .RAW(let method) = head.method, !method.isHTTPToken {
            return UnsendableRequest(field: "method", message: "method '\(method)' is not an HTTP token: send a method of letters, digits and !#$%&'*+-.^_`|~")
        }
        switch targetBytes(head.uri) {
        case .sendable: break
        case .needsEncoding: head.uri = percentEncodedTarget(head.uri)
        case .unsendable:
            return UnsendableRequest(field: "path", message: "the request target has a space or a control character, which HTTP/1.1 cannot carry to the endpoint: percent-encode it")
        }
        return unsendable(head.headers, kind: "field", scan: &scan)
    }

    /// The fields' part of ``unsendable(_:)-(RequestHead)``: every name is a token, no value has a control
    /// character but HTAB.
    static func unsendable(_ fields: HeaderFields, kind: String = "trailer field") -> UnsendableRequest? {
        var scan = FieldScan()
        return unsendable(fields, kind: kind, scan: &scan)
    }

    private static func unsendable(_ fields: HeaderFields, kind: String, scan: inout FieldScan) -> UnsendableRequest? {
        let failed = fields.withBytes { bytes -> Int? in
            for (index, entry) in fields.entries.enumerated() {
                let name = UnsafeBufferPointer(rebasing: bytes[entry.name])
                // (A name the gateway knows is a token: classified by its bytes, it is one of the known names.)
                guard entry.known != nil || (!name.isEmpty && name.allSatisfy(\.isHTTPTokenByte)),
                      UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[entry.value]).firstFieldValueControl() == nil
                else { return index }
                scan.add(entry)
            }
            return nil
        }
        guard let failed else { return nil }
        let name = fields.name(at: failed)
        guard name.isHTTPToken else {
            return UnsendableRequest(field: name, message: "\(kind) name '\(name)' is not an HTTP token: use letters, digits and !#$%&'*+-.^_`|~")
        }
        return UnsendableRequest(field: name, message: "\(kind) '\(name)' has a control character (CR, LF, NUL or another below 0x20, or DEL), which HTTP/1.1 cannot carry to the endpoint: remove it")
    }

    private enum TargetBytes {
        case sendable, needsEncoding, unsendable
    }

    private static func targetBytes(_ target: String) -> TargetBytes {
        target.withUTF8Bytes { bytes in
            var result = TargetBytes.sendable
            for byte in bytes where !isTargetByte(byte) {
                if byte <= 0x20 || byte == 0x7F { return .unsendable }
                result = .needsEncoding
            }
            return result
        }
    }

    /// `target` with every byte RFC 9112 does not allow on the request line as `%XX` (the others, `%` included, as
    /// they are).
    private static func percentEncodedTarget(_ target: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(target.utf8.count * 3)
        for byte in target.utf8 {
            if isTargetByte(byte) {
                encoded.append(byte)
            } else {
                encoded.append(contentsOf: [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// ALPHA, DIGIT, the unreserved `-._~`, the gen-delims `:/?#[]@`, the sub-delims `!$&'()*+,;=`, and `%`.
    @inline(__always)
    private static func isTargetByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x3B, 0x3D, 0x3F...0x5B, 0x5D, 0x5F, 0x61...0x7A, 0x7E: return true
        default: return false
        }
    }

    // MARK: Writing

    /// What one pass over a head's fields finds: whether they name a length and a transfer coding (what
    /// ``BodyFraming`` decides by) and the bytes they take written (the head's buffer is sized by it), so that the head
    /// is not read three times over. `size` is `nil` once the framing changed the fields.
    struct FieldScan {
        var hasLength = false
        var hasTransferEncoding = false
        var size: Int? = 0

        init() {}

        init(_ fields: HeaderFields) {
            for entry in fields.entries { add(entry) }
        }

        fileprivate mutating func add(_ entry: HeaderFields.Entry) {
            switch entry.known {
            case .contentLength: hasLength = true
            case .transferEncoding: hasTransferEncoding = true
            default: break
            }
            size? += HTTP1HeadWriter.fieldSize(entry)
        }
    }

    /// The bytes of `NAME: VALUE` CRLF for every field.
    private static func fieldsSize(_ fields: HeaderFields) -> Int {
        fields.fieldBytes + 4 * fields.count
    }

    /// The bytes of `NAME: VALUE` CRLF (``writeFields(_:to:at:)``).
    @inline(__always)
    private static func fieldSize(_ entry: HeaderFields.Entry) -> Int {
        Int(entry.nameCount + entry.valueCount) + 4
    }

    private static func writeFields(_ fields: HeaderFields, to out: UnsafeMutableRawBufferPointer, at start: Int) -> Int {
        var at = start
        fields.withBytes { bytes in
            let source = UnsafeRawBufferPointer(bytes)
            for entry in fields.entries {
                UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + Int(entry.nameCount))]).copyMemory(from: UnsafeRawBufferPointer(rebasing: source[entry.name]))
                at += Int(entry.nameCount)
                out[at] = UInt8(ascii: ":")
                out[at + 1] = UInt8(ascii: " ")
                at += 2
                UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + Int(entry.valueCount))]).copyMemory(from: UnsafeRawBufferPointer(rebasing: source[entry.value]))
                at += Int(entry.valueCount)
                at = writeCRLF(to: out, at: at)
            }
        }
        return at
    }

    /// `HTTP/1.1` for every version but 1.0 (the gateway speaks HTTP/1.1 to HTTP/1.x peers).
    private static func writeVersion(_ version: HTTPVersion, to out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        // "HTTP/1.1" or "HTTP/1.0" as one store (a loop over the literal's bytes cost about 500 instructions).
        let prefix: UInt64 = 0x00_2e_31_2f_50_54_54_48   // "HTTP/1.", first byte lowest
        let minor: UInt64 = version.major == 1 && version.minor == 0 ? 0x30 : 0x31
        out.storeBytes(of: (prefix | minor << 56).littleEndian, toByteOffset: at, as: UInt64.self)
        return at + 8
    }

    private static func writeCRLF(to out: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        out[at] = UInt8(ascii: "\r")
        out[at + 1] = UInt8(ascii: "\n")
        return at + 2
    }
}
