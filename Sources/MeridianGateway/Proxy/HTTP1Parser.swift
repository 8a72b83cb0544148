#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1

/// HTTP/1.1 messages read from bytes (RFC 9112), for the gateway's HTTP/1.1 connections: requests from local clients
/// (``DownstreamHandler``) and responses from local endpoints (``UpstreamHandler``), in place of NIO's
/// `ByteToMessageHandler` and `HTTPDecoder` (llhttp): the handler that owns the connection parses each read itself,
/// with no pipeline hop, existential box or dynamic cast per part. It hands on the same parts NIO's decoder does
/// (``RequestHead``/``ResponseHead``, body slices as they arrive, the end with its trailers), and refuses with the
/// same `HTTPParserError`s.
///
/// Strict where a lenient reading lets two parsers see different messages (request smuggling, RFC 9112 section 11.2):
/// - a line ends with CR LF: a bare CR or LF is an error, as is a field line folded onto the next (obs-fold);
/// - a field name is a token, with no whitespace before its colon; a value holds no control character but HTAB, and
///   its leading and trailing whitespace is not part of it (RFC 9110 5.5); a request target is visible ASCII;
/// - **framing**: `content-length` is one field of decimal digits (two fields, even equal ones, are refused, as llhttp
///   does); `transfer-encoding` with `content-length` is refused; a request's `transfer-encoding` must end with
///   `chunked` (RFC 9112 6.3; `invalidHeaderToken` otherwise); a response's that does not runs until the close;
/// - chunk sizes are hexadecimal, at most 15 digits, and each chunk ends with CR LF.
///
/// A response is read knowing the method of the request it answers (`parse`'s `responseTo`, asked in the order the
/// responses come): a response to HEAD, a 204, a 304 and a 2xx to CONNECT have no body. Informational responses (1xx)
/// are dropped, as NIO's decoder does by default; 101 is refused (the gateway never asks for an upgrade).
struct HTTP1Parser {
    enum Kind {
        case request
        case response
    }

    enum Part {
        case request(RequestHead)
        case response(ResponseHead)
        case body(ByteBuffer)
        case end(HeaderFields?)
    }

    private enum State {
        /// Before a message's head, or inside it.
        case head
        case body(remaining: Int)
        case chunkLine
        case chunkData(remaining: Int)
        /// The CR LF after a chunk's data.
        case chunkDataEnd(sawCR: Bool)
        case trailers
        case untilClose
        case failed
    }

    let kind: Kind
    /// The largest head (start line and fields, or a trailer section) read; a larger one is `headerOverflow`.
    let maxHeadBytes: Int
    private var state = State.head
    /// The start of a head, chunk line or trailer section that the last read ended in.
    private var held: ByteBuffer?
    private var scan = Scan()
    /// The last head's field lines, and their fields and framing (``HTTP1FieldsMemo``), shared by the parsers given
    /// the same memo.
    private let memo: HTTP1FieldsMemo
    static let longestLinesKept = 1024
    /// How many heads' fields were the last head's (for the tests).
    private(set) var fieldsRepeated = 0

    /// The longest chunk line (size and extensions) read.
    static let maxChunkLine = 4096

    /// - Parameter memo: the last head's fields, shared with other parsers on the same thread (a worker's client
    ///   connections share one), or the parser's own.
    init(_ kind: Kind, maxHeadBytes: Int, memo: HTTP1FieldsMemo? = nil) {
        self.kind = kind
        self.maxHeadBytes = maxHeadBytes
        self.memo = memo ?? HTTP1FieldsMemo()
    }

    /// A message was begun and not finished.
    var inMessage: Bool {
        // Empty lines between messages (some servers send one after a body) begin none.
        if case .head = state {
            return held?.readableBytesView.contains { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") } ?? false
        }
        if case .failed = state { return false }
        return true
    }

    /// Parses `buffer`, handing each part to `emit` as soon as it is complete (body bytes as they arrive). After an
    /// error nothing more is parsed. `responseTo` gives, for a response, the method of the request it answers (asked
    /// once per final response, in order); it is not stored here, so that a request written while a part is being
    /// handled does not touch the parser.
    mutating func parse(_ buffer: ByteBuffer, responseTo: () -> HTTPMethod = { .GET }, emit: (consuming Part) -> Void) throws(HTTPParserError) {
        var buffer = buffer
        do throws(HTTPParserError) {
            while buffer.readableBytes > 0 {
                switch state {
                case .head:
                    guard let head = try take(&buffer, until: .head, limit: maxHeadBytes, overflow: .headerOverflow) else { return }
                    try parseHead(head, responseTo: responseTo, emit: emit)
                case .body(let remaining):
                    let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                    emit(.body(slice))
                    if remaining == slice.readableBytes {
                        state = .head
                        emit(.end(nil))
                    } else {
                        state = .body(remaining: remaining - slice.readableBytes)
                    }
                case .chunkLine:
                    guard let line = try take(&buffer, until: .line, limit: Self.maxChunkLine, overflow: .invalidChunkSize) else { return }
                    let size = try Self.chunkSize(line)
                    state = size == 0 ? .trailers : .chunkData(remaining: size)
                case .chunkData(let remaining):
                    let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                    emit(.body(slice))
                    state = remaining == slice.readableBytes ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - slice.readableBytes)
                case .chunkDataEnd(let sawCR):
                    let byte = buffer.readInteger(as: UInt8.self)!
                    guard byte == (sawCR ? UInt8(ascii: "\n") : UInt8(ascii: "\r")) else { throw HTTPParserError.invalidChunkSize }
                    state = sawCR ? .chunkLine : .chunkDataEnd(sawCR: true)
                case .trailers:
                    guard let section = try take(&buffer, until: .section, limit: maxHeadBytes, overflow: .headerOverflow) else { return }
                    var framing = Framing()
                    let trailers = try Self.fields(section, from: 0, framing: &framing)
                    state = .head
                    emit(.end(trailers.isEmpty ? nil : trailers))
                case .untilClose:
                    emit(.body(buffer))
                    return
                case .failed:
                    return
                }
            }
        } catch {
            state = .failed
            held = nil
            throw error
        }
    }

    /// The connection ended: the end of a body that runs until the close; `invalidEOFState` if a message was cut.
    mutating func finish(emit: (consuming Part) -> Void) throws(HTTPParserError) {
        switch state {
        case .untilClose:
            state = .head
            emit(.end(nil))
        case .failed:
            return
        default:
            guard !inMessage else {
                state = .failed
                throw HTTPParserError.invalidEOFState
            }
        }
    }

    // MARK: Lines and heads

    private enum Terminator {
        /// A line's end (LF).
        case line
        /// An empty line after at least one that is not (the end of a head; empty lines before a head are part of it,
        /// RFC 9112 2.2).
        case head
        /// The first empty line (the end of a trailer section, which may have no field).
        case section
    }

    /// Where the search for a terminator in `held` stopped: the start of the line not yet ended.
    private struct Scan {
        var lineStart = 0
        /// Where the search for the line's end goes on (the line's start, or past what was searched of it).
        var searchFrom = 0
        var sawContent = false
    }

    /// The bytes up to and including the terminator, once they have all arrived (held across reads until then);
    /// `overflow` past `limit`.
    private mutating func take(_ buffer: inout ByteBuffer, until terminator: Terminator, limit: Int,
                               overflow: HTTPParserError) throws(HTTPParserError) -> ByteBuffer? {
        if var pending = held {
            // Taken out first, so that the append does not copy the buffer (a second reference to its storage would
            // make every read of a slow client copy all that was held: quadratic). Appended a little at a time, and
            // searched only where it was not searched before.
            held = nil
            let start = pending.readableBytes
            let take = min(buffer.readableBytes, limit + 1 - start)
            pending.writeImmutableBuffer(buffer.getSlice(at: buffer.readerIndex, length: take)!)
            if let end = Self.find(terminator, in: pending, scan: &scan) {
                scan = Scan()
                guard end <= limit else { throw overflow }
                buffer.moveReaderIndex(forwardBy: end - start)
                return pending.getSlice(at: pending.readerIndex, length: end)
            }
            guard pending.readableBytes <= limit else { throw overflow }
            buffer.moveReaderIndex(forwardBy: take)
            held = pending
            return nil
        }
        var fresh = Scan()
        if let end = Self.find(terminator, in: buffer, scan: &fresh) {
            guard end <= limit else { throw overflow }
            return buffer.readSlice(length: end)
        }
        guard buffer.readableBytes <= limit else { throw overflow }
        // Copied: the read's buffer is not kept.
        var pending = ByteBufferAllocator().buffer(capacity: max(256, buffer.readableBytes * 2))
        pending.writeBuffer(&buffer)
        held = pending
        scan = fresh
        return nil
    }

    /// The length of what ends with the terminator in `buffer`'s readable bytes, searched from `scan`, or `nil` (and
    /// `scan` where the search stopped). An empty line is CR LF, or a bare LF (refused when the head is parsed).
    private static func find(_ terminator: Terminator, in buffer: ByteBuffer, scan: inout Scan) -> Int? {
        buffer.withUnsafeReadableBytes { bytes -> Int? in
            while scan.lineStart < bytes.count {
                let from = max(scan.lineStart, scan.searchFrom)
                guard let newline = bytes.firstIndex(ofByte: UInt8(ascii: "\n"), from: from) else {
                    scan.searchFrom = bytes.count
                    return nil
                }
                let end = newline + 1
                let length = end - scan.lineStart
                let empty = length == 1 || (length == 2 && bytes[scan.lineStart] == UInt8(ascii: "\r"))
                switch terminator {
                case .line:
                    return end
                case .head:
                    if empty && scan.sawContent { return end }
                    if !empty { scan.sawContent = true }
                case .section:
                    if empty { return end }
                }
                scan.lineStart = end
                scan.searchFrom = end
            }
            return nil
        }
    }

    /// The size on a chunk line (`1a2b;ext=v CR LF`).
    private static func chunkSize(_ line: ByteBuffer) throws(HTTPParserError) -> Int {
        let size = line.withUnsafeReadableBytes { bytes -> Int? in
            let end = bytes.count - 2
            guard end > 0, bytes[end] == UInt8(ascii: "\r") else { return nil }
            var size = 0
            var index = 0
            while index < end, let digit = hexValue(bytes[index]) {
                guard index < 15 else { return nil }
                size = size << 4 | digit
                index += 1
            }
            guard index > 0 else { return nil }
            // Whitespace before the extensions (RFC 9112 7.1.1, BWS), then `;` and what cannot break the line.
            while index < end, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
            guard index == end || bytes[index] == UInt8(ascii: ";") else { return nil }
            while index < end {
                let byte = bytes[index]
                guard byte >= 0x20 || byte == UInt8(ascii: "\t"), byte != 0x7f else { return nil }
                index += 1
            }
            return size
        }
        guard let size else { throw HTTPParserError.invalidChunkSize }
        return size
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte &- UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte &- UInt8(ascii: "A")) + 10
        default: nil
        }
    }

    /// What a head's fields say about its body.
    struct Framing {
        var contentLength: Int?
        var contentLengthFields = 0
        var transferEncoding = false
        /// The last transfer coding named is `chunked`.
        var chunked = false
    }

    private mutating func parseHead(_ head: ByteBuffer, responseTo: () -> HTTPMethod, emit: (consuming Part) -> Void) throws(HTTPParserError) {
        var framing = Framing()
        switch kind {
        case .request:
            let (method, uri, version, fieldsStart) = try Self.requestLine(head)
            let headers = try headFields(head, from: fieldsStart, framing: &framing)
            if framing.transferEncoding {
                guard framing.contentLengthFields == 0 else { throw HTTPParserError.unexpectedContentLength }
                guard framing.chunked else { throw HTTPParserError.invalidHeaderToken }
            }
            // (Consumed: the head goes on owned, so that admission's relay changes its fields in place, where a copy
            // kept alive here until the end of the scope made the change a copy of its buffers.)
            emit(.request(RequestHead(version: version, method: method, uri: uri, headers: consume headers)))
            if framing.transferEncoding {
                state = .chunkLine
            } else if let length = framing.contentLength, length > 0 {
                state = .body(remaining: length)
            } else {
                state = .head
                emit(.end(nil))
            }
        case .response:
            let (version, status, fieldsStart) = try Self.statusLine(head)
            let headers = try headFields(head, from: fieldsStart, framing: &framing)
            if framing.transferEncoding, framing.contentLengthFields > 0 { throw HTTPParserError.unexpectedContentLength }
            let code = Int(status.code)
            if code < 200 {
                guard code != 101 else { throw HTTPParserError.invalidStatus }
                return   // informational: dropped, the final response follows
            }
            let method = responseTo()
            emit(.response(ResponseHead(version: version, status: status, headers: consume headers)))
            if method.isHEAD || code == 204 || code == 304 || (method.isCONNECT && code < 300) {
                state = .head
                emit(.end(nil))
            } else if framing.transferEncoding {
                state = framing.chunked ? .chunkLine : .untilClose
            } else if let length = framing.contentLength {
                if length > 0 {
                    state = .body(remaining: length)
                } else {
                    state = .head
                    emit(.end(nil))
                }
            } else {
                state = .untilClose
            }
        }
    }

    /// `METHOD SP request-target SP HTTP/1.x CR LF`, after any empty lines.
    private static func requestLine(_ head: ByteBuffer) throws(HTTPParserError) -> (HTTPMethod, String, HTTPVersion, Int) {
        let parsed = head.withUnsafeReadableBytes { bytes -> Result<(HTTPMethod, String, HTTPVersion, Int), HTTPParserError> in
            var index = 0
            while index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\r"), bytes[index + 1] == UInt8(ascii: "\n") { index += 2 }
            let methodStart = index
            while index < bytes.count, bytes[index].isHTTPTokenByte { index += 1 }
            guard index > methodStart, index < bytes.count, bytes[index] == UInt8(ascii: " ") else { return .failure(.invalidMethod) }
            let method = HTTPMethod(named: UnsafeRawBufferPointer(rebasing: bytes[methodStart..<index]))
            index += 1
            let uriStart = index
            while index < bytes.count, bytes[index] > 0x20, bytes[index] < 0x7f { index += 1 }
            guard index > uriStart, index < bytes.count, bytes[index] == UInt8(ascii: " ") else { return .failure(.invalidURL) }
            let uri = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[uriStart..<index]), as: UTF8.self)
            index += 1
            guard let version = version(bytes, at: index) else { return .failure(.invalidVersion) }
            index += 8
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\r"), bytes[index + 1] == UInt8(ascii: "\n") else {
                return .failure(.lfExpected)
            }
            return .success((method, uri, version, index + 2))
        }
        return try parsed.get()
    }

    /// `HTTP/1.x SP 3DIGIT [SP reason] CR LF`.
    private static func statusLine(_ head: ByteBuffer) throws(HTTPParserError) -> (HTTPVersion, HTTPResponseStatus, Int) {
        let parsed = head.withUnsafeReadableBytes { bytes -> Result<(HTTPVersion, HTTPResponseStatus, Int), HTTPParserError> in
            var index = 0
            while index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\r"), bytes[index + 1] == UInt8(ascii: "\n") { index += 2 }
            guard let version = version(bytes, at: index) else { return .failure(.invalidVersion) }
            index += 8
            guard index + 4 <= bytes.count, bytes[index] == UInt8(ascii: " ") else { return .failure(.invalidStatus) }
            var code = 0
            for offset in 1...3 {
                let byte = bytes[index + offset]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return .failure(.invalidStatus) }
                code = code * 10 + Int(byte - UInt8(ascii: "0"))
            }
            guard code >= 100 else { return .failure(.invalidStatus) }
            index += 4
            // The reason phrase is read past, not kept, as NIO's decoder does: a code NIO names gets its phrase, any
            // other none (HTTP/2, which a response crosses the mesh in, has none). No string is made of `OK` on every
            // response.
            if index < bytes.count, bytes[index] == UInt8(ascii: " ") {
                index += 1
                while index < bytes.count, bytes[index] >= 0x20 || bytes[index] == UInt8(ascii: "\t"), bytes[index] != 0x7f { index += 1 }
            }
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\r"), bytes[index + 1] == UInt8(ascii: "\n") else {
                return .failure(.lfExpected)
            }
            return .success((version, HTTPResponseStatus(statusCode: code), index + 2))
        }
        return try parsed.get()
    }

    /// `HTTP/1.0` or `HTTP/1.1` (any `HTTP/1.x` is read as 1.x; another major version is refused).
    private static func version(_ bytes: UnsafeRawBufferPointer, at index: Int) -> HTTPVersion? {
        guard index + 8 <= bytes.count, bytes[index] == UInt8(ascii: "H"), bytes[index + 1] == UInt8(ascii: "T"),
              bytes[index + 2] == UInt8(ascii: "T"), bytes[index + 3] == UInt8(ascii: "P"), bytes[index + 4] == UInt8(ascii: "/"),
              bytes[index + 5] == UInt8(ascii: "1"), bytes[index + 6] == UInt8(ascii: "."),
              bytes[index + 7] >= UInt8(ascii: "0"), bytes[index + 7] <= UInt8(ascii: "9") else { return nil }
        return bytes[index + 7] == UInt8(ascii: "1") ? .http1_1 : HTTPVersion(major: 1, minor: Int(bytes[index + 7] - UInt8(ascii: "0")))
    }

    /// ``fields(_:from:framing:)``, or the last head's when its lines were the same bytes.
    private mutating func headFields(_ head: ByteBuffer, from start: Int, framing: inout Framing) throws(HTTPParserError) -> HeaderFields {
        let memo = self.memo
        if let fields = memo.fields, head.withUnsafeReadableBytes({ bytes in
            bytes.count - start == memo.lines.count && memo.lines.withUnsafeBytes { memcmp($0.baseAddress!, bytes.baseAddress! + start, $0.count) == 0 }
        }) {
            fieldsRepeated += 1
            framing = memo.framing
            return fields
        }
        memo.fields = nil
        let fields = try Self.fields(head, from: start, framing: &framing)
        let count = head.readableBytes - start
        if count <= Self.longestLinesKept {
            memo.lines.removeAll(keepingCapacity: true)
            head.withUnsafeReadableBytes { memo.lines.append(contentsOf: $0[start...]) }
            memo.fields = fields
            memo.framing = framing
        }
        return fields
    }

    /// The field lines from `start` (an offset in `head`'s readable bytes) to the empty line that ends `head`.
    /// Each name is classified as it is read (``HeaderFields/Field/known``).
    private static func fields(_ head: ByteBuffer, from start: Int, framing: inout Framing) throws(HTTPParserError) -> HeaderFields {
        // The field lines' bytes are copied at once; each field is an entry of offsets into them.
        let parsed = head.withUnsafeReadableBytes { bytes -> Result<HeaderFields, HTTPParserError> in
            // (With room for the four fields a gateway relays a request with, about 150 bytes: growing the buffer
            // for them was two more allocations and copies per request.)
            let lines = FieldBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[start...]), extra: 192)
            var entries: [HeaderFields.Entry] = []
            entries.reserveCapacity(12)
            var index = start
            let count = bytes.count
            while true {
                guard index + 1 < count, bytes[index] != UInt8(ascii: "\n") else { return .failure(.lfExpected) }
                if bytes[index] == UInt8(ascii: "\r") {
                    guard bytes[index + 1] == UInt8(ascii: "\n"), index + 2 == count else { return .failure(.lfExpected) }
                    return .success(HeaderFields(bytes: lines, entries: entries))
                }
                // A line folded onto the last (it starts with whitespace), or a name that is not a token.
                let nameStart = index
                while index < count, bytes[index].isHTTPTokenByte { index += 1 }
                guard index > nameStart, index < count, bytes[index] == UInt8(ascii: ":") else { return .failure(.invalidHeaderToken) }
                let nameEnd = index
                index += 1
                while index < count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
                let valueStart = index
                // The line's end (its CR, found by memchr), then one pass over the value eight bytes at a time for what
                // may not be in it.
                let lineEnd = bytes.firstIndex(ofByte: UInt8(ascii: "\r"), from: valueStart) ?? count
                if let byte = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<lineEnd]).firstFieldValueControl() {
                    return .failure(byte == UInt8(ascii: "\n") ? .lfExpected : .invalidCharactersUsed)
                }
                index = lineEnd
                var valueEnd = lineEnd
                while valueEnd > valueStart, bytes[valueEnd - 1] == UInt8(ascii: " ") || bytes[valueEnd - 1] == UInt8(ascii: "\t") { valueEnd -= 1 }
                guard index + 1 < count, bytes[index + 1] == UInt8(ascii: "\n") else { return .failure(.lfExpected) }
                index += 2
                let name = UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameEnd]).assumingMemoryBound(to: UInt8.self)
                let value = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]).assumingMemoryBound(to: UInt8.self)
                let known = HeaderName.known(bytes: name)
                switch known {
                case .contentLength:
                    framing.contentLengthFields += 1
                    guard framing.contentLengthFields == 1 else { return .failure(.unexpectedContentLength) }
                    guard let length = decimal(value) else { return .failure(.invalidContentLength) }
                    framing.contentLength = length
                case .transferEncoding:
                    framing.transferEncoding = true
                    framing.chunked = endsWithChunked(value)
                default:
                    break
                }
                entries.append(HeaderFields.Entry(name: (nameStart - start)..<(nameEnd - start), value: (valueStart - start)..<(valueEnd - start),
                                                  known: known))
            }
        }
        return try parsed.get()
    }

    /// Decimal digits only, at most 18 of them.
    private static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// The last coding of a `transfer-encoding` value is `chunked` (compared without regard to case).
    private static func endsWithChunked(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        var end = value.count
        while end > 0, value[end - 1] == UInt8(ascii: " ") || value[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        guard end >= 7 else { return false }
        guard UnsafeBufferPointer(rebasing: value[(end - 7)..<end]).equalsIgnoringASCIICase("chunked") else { return false }
        var before = end - 8
        while before >= 0, value[before] == UInt8(ascii: " ") || value[before] == UInt8(ascii: "\t") { before -= 1 }
        return before < 0 || value[before] == UInt8(ascii: ",")
    }
}

extension UnsafeRawBufferPointer {
    /// The offset of the first `byte` at or after `from`, found by the C library's `memchr` (which reads a word or a
    /// vector at a time: a head's line ends are found without a loop over its bytes).
    func firstIndex(ofByte byte: UInt8, from: Int) -> Int? {
        guard from < count, let base = baseAddress else { return nil }
        guard let found = memchr(base + from, Int32(byte), count - from) else { return nil }
        return UnsafeRawPointer(found) - base
    }
}

/// The last head's field lines, and their fields and framing: the next head with the same lines gets the same fields
/// without reading them again (about 500 instructions a field). A client's or an endpoint's heads mostly repeat on a
/// connection (an endpoint's `date` changes once a second), and the clients of one application send the same fields
/// on every connection: a worker's client connections share one memo, so a connection's first head finds them too (a
/// client that opens a connection per request: about 2,600 instructions per request at east). Lines longer than
/// ``HTTP1Parser/longestLinesKept`` are not kept. Used on one thread (an event loop's).
final class HTTP1FieldsMemo {
    fileprivate var lines: [UInt8] = []
    // (Two properties, not an optional tuple: that was copied through the runtime's generic tuple witness.)
    fileprivate var fields: HeaderFields?
    fileprivate var framing = HTTP1Parser.Framing()

    init() {}
}
