import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOHTTP1

/// The fields of a message head, as the gateway keeps them from where they arrive (``HTTP1Parser``, a header block's
/// translation) to where they leave (``HTTP1HeadWriter``, a header block for ``TunnelHPACKEncoder``), in place of NIO's
/// `HTTPHeaders`:
/// - the names and values are bytes, back to back in one buffer, and each field is an ``Entry`` of offsets into it
///   (HAProxy keeps a message's head the same way). Copying a head retains two buffers, whatever its fields; dropping
///   a field removes an entry and leaves the bytes where they are; a field arrives as a copy of its bytes (the parser
///   copies a head's field lines at once). With a `String` per name and value, each copy of a head retained and
///   released every string longer than fifteen bytes, about two hundred per request in a gateway, and every field read
///   from the wire was a new string (callgrind);
/// - each field's name is classified once, where it arrives (``Entry/known``); every later pass over the fields
///   (admission, the hop-by-hop fields, the framing, the exchange's flags) switches on that instead of comparing the
///   name again.
///
/// Names are compared without regard to ASCII case, as `HTTPHeaders` compares them; values as they are. ``Field`` is
/// a field as strings, for heads the gateway makes and for tests; the data path reads bytes (``withName(at:_:)``,
/// ``withValue(at:_:)``).
struct HeaderFields: Equatable, Sequence {
    struct Field: Equatable {
        var name: String
        var value: String
        /// What the name is (``HeaderName/known(_:)``), found once.
        var known: HeaderName.Known?

        /// A field whose name is classified here.
        init(name: String, value: String) {
            self.name = name
            self.value = value
            known = HeaderName.known(name)
        }

        /// A field whose name was classified already (`known` is ``HeaderName/known(_:)`` of `name`).
        init(name: String, value: String, known: HeaderName.Known?) {
            assert(known == HeaderName.known(name), "\(name) is not \(String(describing: known))")
            self.name = name
            self.value = value
            self.known = known
        }

        /// `transfer-encoding: chunked`, the framing the gateway adds to a body of unknown length.
        static let chunked = Field(name: "transfer-encoding", value: "chunked", known: .transferEncoding)
        /// `content-length: 0`.
        static let noContent = Field(name: "content-length", value: "0", known: .contentLength)

        static func == (lhs: Field, rhs: Field) -> Bool {
            lhs.value == rhs.value && lhs.name.asciiLowercased == rhs.name.asciiLowercased
        }
    }

    /// One field: where its name and value are in ``bytes``, and its name's class.
    struct Entry: Equatable {
        var nameStart: UInt32
        var nameCount: UInt32
        var valueStart: UInt32
        var valueCount: UInt32
        var known: HeaderName.Known?

        /// A field whose name and value are the bytes at `name` and `value`.
        init(name: Range<Int>, value: Range<Int>, known: HeaderName.Known?) {
            nameStart = UInt32(name.lowerBound)
            nameCount = UInt32(name.count)
            valueStart = UInt32(value.lowerBound)
            valueCount = UInt32(value.count)
            self.known = known
        }

        var name: Range<Int> { Int(nameStart)..<Int(nameStart + nameCount) }
        var value: Range<Int> { Int(valueStart)..<Int(valueStart + valueCount) }
    }

    /// The names and values, back to back (bytes of fields no longer in ``entries`` may remain).
    private(set) var bytes: FieldBytes
    /// The fields, in order of arrival.
    private(set) var entries: [Entry]

    init() {
        bytes = FieldBytes()
        entries = []
    }

    /// Room for `fields` fields of `bytes` bytes in all.
    init(reservingFields fields: Int, bytes count: Int) {
        bytes = FieldBytes(capacity: count)
        entries = []
        entries.reserveCapacity(fields)
    }

    /// A copy of the first `count` fields of `other`, whose bytes are the first of its bytes (as a decoder appends
    /// them), with room for `extraFields` more fields and `extraBytes` more bytes.
    init(prefix count: Int, of other: HeaderFields, extraFields: Int, extraBytes: Int) {
        let end = count == 0 ? 0 : Int(other.entries[count - 1].valueStart + other.entries[count - 1].valueCount)
        assert(other.entries[..<count].allSatisfy { Int($0.valueStart + $0.valueCount) <= end }, "fields whose bytes are not first")
        bytes = other.bytes.withUnsafeBufferPointer { FieldBytes(copying: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer($0)[..<end]), extra: extraBytes) }
        entries = []
        entries.reserveCapacity(count + extraFields)
        entries.append(contentsOf: other.entries[..<count])
    }

    /// Fields whose bytes are `bytes` (which the entries index).
    init(bytes: FieldBytes, entries: [Entry]) {
        self.bytes = bytes
        self.entries = entries
    }

    init(fields: [Field]) {
        self.init()
        for field in fields { append(field) }
    }

    /// Fields whose names are classified here (tests, and heads the gateway makes).
    init(_ pairs: [(String, String)]) {
        self.init(fields: pairs.map { Field(name: $0.0, value: $0.1) })
    }

    /// The fields as strings (tests and error reports; the data path reads bytes).
    var fields: [Field] {
        entries.indices.map { Field(name: name(at: $0), value: value(at: $0), known: entries[$0].known) }
    }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    func makeIterator() -> some IteratorProtocol<(name: String, value: String)> {
        fields.lazy.map { (name: $0.name, value: $0.value) }.makeIterator()
    }

    // MARK: Reading a field

    /// The class of field `index`'s name.
    @inline(__always)
    func known(at index: Int) -> HeaderName.Known? { entries[index].known }

    /// Calls `body` with the bytes of field `index`'s name.
    @inline(__always)
    func withName<Result>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let range = entries[index].name
        return try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    /// Calls `body` with the bytes of field `index`'s value.
    @inline(__always)
    func withValue<Result>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let range = entries[index].value
        return try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    /// Calls `body` with every byte (what ``entries`` index).
    @inline(__always)
    func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBufferPointer(body)
    }

    /// Field `index`'s name as a new string.
    func name(at index: Int) -> String {
        withName(at: index) { String(decoding: $0, as: UTF8.self) }
    }

    /// Field `index`'s value as a new string.
    func value(at index: Int) -> String {
        withValue(at: index) { String(decoding: $0, as: UTF8.self) }
    }

    /// The bytes of `NAME` and `VALUE` of every field.
    var fieldBytes: Int {
        var total = 0
        for entry in entries { total += Int(entry.nameCount + entry.valueCount) }
        return total
    }

    // MARK: Adding fields

    /// Appends a field (`known` is ``HeaderName/known(bytes:)`` of `name`).
    mutating func append(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, known: HeaderName.Known?) {
        entries.append(appendBytes(name: name, value: value, known: known))
    }

    /// Appends a field (`known` is ``HeaderName/known(_:)`` of `name`).
    mutating func append(name: String, value: String, known: HeaderName.Known?) {
        entries.append(appendBytes(name: name, value: value, known: known))
    }

    mutating func append(_ field: Field) {
        append(name: field.name, value: field.value, known: field.known)
    }

    /// Appends a field whose value `decoder` decodes from the Huffman-coded `value` (HPACK); `false`, and no field
    /// appended (its bytes may remain), when it does not decode: the block is refused.
    mutating func append(name: UnsafeBufferPointer<UInt8>, huffmanCodedValue value: UnsafeRawBufferPointer, known: HeaderName.Known?,
                         decoder: HPACKHuffmanDecoder) -> Bool {
        let nameStart = bytes.append(name)
        let valueStart = bytes.count
        guard decoder.decode(value, appendingTo: &bytes) else { return false }
        entries.append(Entry(name: nameStart..<(nameStart + name.count), value: valueStart..<bytes.count, known: known))
        return true
    }

    /// Inserts a field at position `index`.
    mutating func insert(_ field: Field, at index: Int) {
        entries.insert(appendBytes(name: field.name, value: field.value, known: field.known), at: index)
    }

    /// Appends the bytes of a field not yet in ``entries``.
    private mutating func appendBytes(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, known: HeaderName.Known?) -> Entry {
        let nameStart = bytes.append(name)
        let valueStart = bytes.append(value)
        return Entry(name: nameStart..<(nameStart + name.count), value: valueStart..<(valueStart + value.count), known: known)
    }

    /// ``appendBytes(name:value:known:)`` of strings (`known` is ``HeaderName/known(_:)`` of `name`).
    private mutating func appendBytes(name: String, value: String, known: HeaderName.Known?) -> Entry {
        assert(known == HeaderName.known(name), "\(name) is not \(String(describing: known))")
        return name.withUTF8Bytes { name in value.withUTF8Bytes { value in appendBytes(name: name, value: value, known: known) } }
    }

    mutating func add(name: String, value: String) {
        append(Field(name: name, value: value))
    }

    // MARK: Changing fields

    /// Keeps only the fields for which `keep` is true (their bytes stay where they are).
    mutating func keepEntries(where keep: (Entry) -> Bool) {
        entries.removeAll { !keep($0) }
    }

    /// Puts `field` in place of field `index`.
    mutating func replace(at index: Int, with field: Field) {
        entries[index] = appendBytes(name: field.name, value: field.value, known: field.known)
    }

    /// Inserts at position `index` a field named `name` whose value is the bytes `value` of this head already (a
    /// `host` from a block's `:authority`).
    mutating func insert(name: String, valueAt value: Range<Int>, known: HeaderName.Known?, at index: Int) {
        let nameStart = name.withUTF8Bytes { bytes.append($0) }
        entries.insert(Entry(name: nameStart..<bytes.count, value: value, known: known), at: index)
    }

    /// Removes every field named `name` (any case).
    mutating func remove(name: String) {
        if let known = HeaderName.known(name) {
            remove(known)
            return
        }
        let lowercase = name.asciiLowercased
        let matches = entries.indices.filter { entries[$0].known == nil && withName(at: $0) { $0.equalsIgnoringASCIICase(string: lowercase) } }
        guard !matches.isEmpty else { return }
        for index in matches.reversed() { entries.remove(at: index) }
    }

    /// Removes every field that is `known`.
    mutating func remove(_ known: HeaderName.Known) {
        entries.removeAll { $0.known == known }
    }

    /// Removes every field named `name`, then adds one (at the end) with `value`.
    mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    // MARK: Lookups

    /// The index of the first field that is `known`.
    func firstIndex(_ known: HeaderName.Known) -> Int? {
        entries.firstIndex { $0.known == known }
    }

    /// The value of the first field named `name` (any case).
    func first(name: String) -> String? {
        if let known = HeaderName.known(name) { return first(known) }
        let lowercase = name.asciiLowercased
        return entries.indices.first { entries[$0].known == nil && withName(at: $0) { $0.equalsIgnoringASCIICase(string: lowercase) } }
            .map(value(at:))
    }

    /// The length the `content-length` fields declare, or `nil` when there are none or they are not valid (RFC 9110
    /// 8.6, as ``DeclaredLength/parse(bytes:into:)`` reads them).
    var declaredLength: Int? {
        var declared: Int?
        for index in entries.indices where entries[index].known == .contentLength {
            guard (try? withValue(at: index, { try DeclaredLength.parse(bytes: $0, into: &declared) })) != nil else { return nil }
        }
        return declared
    }

    /// The value of the first field that is `known`.
    func first(_ known: HeaderName.Known) -> String? {
        firstIndex(known).map(value(at:))
    }

    func contains(name: String) -> Bool {
        first(name: name) != nil
    }

    /// The values of the fields named `name`, in order.
    subscript(name: String) -> [String] {
        let lowercase = name.asciiLowercased
        return entries.indices.filter { withName(at: $0) { $0.equalsIgnoringASCIICase(string: lowercase) } }.map(value(at:))
    }

    static func == (lhs: HeaderFields, rhs: HeaderFields) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for index in lhs.entries.indices {
            let same = lhs.withName(at: index) { left in
                rhs.withName(at: index) { right in left.count == right.count && zip(left, right).allSatisfy { $0.asciiLowercased == $1.asciiLowercased } }
            } && lhs.withValue(at: index) { left in rhs.withValue(at: index) { right in left.elementsEqual(right) } }
            guard same else { return false }
        }
        return true
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether these bytes are `lowercase` in any ASCII case.
    func equalsIgnoringASCIICase(string lowercase: String) -> Bool {
        lowercase.withUTF8Bytes { expected in
            count == expected.count && zip(self, expected).allSatisfy { $0.asciiLowercased == $1 }
        }
    }

    /// Whether these bytes are those of `string`.
    func equals(_ string: String) -> Bool {
        string.withUTF8Bytes { expected in
            count == expected.count && (count == 0 || memcmp(baseAddress!, expected.baseAddress!, count) == 0)
        }
    }
}

/// A request head: NIO's `HTTPRequestHead` with ``HeaderFields`` (and no storage of its own to allocate).
struct RequestHead: Equatable {
    var version: HTTPVersion
    var method: HTTPMethod
    var uri: String
    var headers: HeaderFields

    init(version: HTTPVersion, method: HTTPMethod, uri: String, headers: HeaderFields = HeaderFields()) {
        self.version = version
        self.method = method
        self.uri = uri
        self.headers = headers
    }
}

/// A response head: NIO's `HTTPResponseHead` with ``HeaderFields``.
struct ResponseHead: Equatable {
    var version: HTTPVersion
    var status: HTTPResponseStatus
    var headers: HeaderFields

    init(version: HTTPVersion, status: HTTPResponseStatus, headers: HeaderFields = HeaderFields()) {
        self.version = version
        self.status = status
        self.headers = headers
    }
}

/// A part of a message as the proxy passes it on: NIO's `HTTPPart` with the gateway's heads and ``HeaderFields``
/// trailers.
enum MessagePart<Head: Equatable, Body: Equatable>: Equatable {
    case head(Head)
    case body(Body)
    case end(HeaderFields?)
}

extension MessagePart where Head == ResponseHead {
    /// Whether this is a final (not 1xx) response head. (Read without binding the head: a binding copied it.)
    var isFinalHead: Bool {
        switch self {
        case .head(let head): head.status.code >= 200
        default: false
        }
    }
}

/// A request part from a client (NIO's `HTTPServerRequestPart`).
typealias ReceivedRequestPart = MessagePart<RequestHead, ByteBuffer>
/// A request part to an endpoint or a peer (NIO's `HTTPClientRequestPart`).
typealias RequestPart = MessagePart<RequestHead, IOData>
/// A response part to a client (NIO's `HTTPServerResponsePart`).
typealias ResponsePart = MessagePart<ResponseHead, IOData>
/// A response part from an endpoint or a peer (NIO's `HTTPClientResponsePart`).
typealias ReceivedResponsePart = MessagePart<ResponseHead, ByteBuffer>

extension HeaderFields: ExpressibleByDictionaryLiteral {
    init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }
}
