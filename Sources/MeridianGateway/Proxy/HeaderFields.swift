import NIOCore
import NIOHTTP1

/// The fields of a message head, as the gateway keeps them from where they arrive (``HTTP1Parser``, a header block's
/// translation) to where they leave (``HTTP1HeadWriter``, a header block for ``TunnelHPACKEncoder``), in place of NIO's
/// `HTTPHeaders`:
/// - each field's name is classified once, where it arrives (``Field/known``); every later pass over the fields
///   (admission, the hop-by-hop fields, the framing, the exchange's flags) switches on that instead of comparing the
///   name again;
/// - the fields are an array of structs of this module: a pass over them is specialised and inlined, where each read
///   of an `HTTPHeaders` field was a call into NIOHTTP1 with a retain and a release of its name and value, and
///   destroying its array of tuples went through the runtime's generic `tuple_destroy` (about 4,000 instructions per
///   request in a gateway, callgrind).
///
/// Names are compared without regard to ASCII case, as `HTTPHeaders` compares them; values as they are.
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

    /// In order of arrival.
    var fields: [Field]

    init() {
        fields = []
    }

    init(fields: [Field]) {
        self.fields = fields
    }

    /// Fields whose names are classified here (tests, and heads the gateway makes).
    init(_ pairs: [(String, String)]) {
        fields = pairs.map { Field(name: $0.0, value: $0.1) }
    }

    var count: Int { fields.count }
    var isEmpty: Bool { fields.isEmpty }

    func makeIterator() -> some IteratorProtocol<(name: String, value: String)> {
        fields.lazy.map { (name: $0.name, value: $0.value) }.makeIterator()
    }

    mutating func add(name: String, value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Removes every field named `name` (any case).
    mutating func remove(name: String) {
        if let known = HeaderName.known(name) {
            remove(known)
        } else {
            let lowercase = name.asciiLowercased
            fields.removeAll { $0.known == nil && $0.name.equalsIgnoringASCIICase(string: lowercase) }
        }
    }

    /// Removes every field that is `known`.
    mutating func remove(_ known: HeaderName.Known) {
        fields.removeAll { $0.known == known }
    }

    /// Removes every field named `name`, then adds one (at the end) with `value`.
    mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    /// The value of the first field named `name` (any case).
    func first(name: String) -> String? {
        if let known = HeaderName.known(name) { return first(known) }
        let lowercase = name.asciiLowercased
        return fields.first { $0.known == nil && $0.name.equalsIgnoringASCIICase(string: lowercase) }?.value
    }

    /// The value of the first field that is `known`.
    func first(_ known: HeaderName.Known) -> String? {
        fields.first { $0.known == known }?.value
    }

    func contains(name: String) -> Bool {
        first(name: name) != nil
    }

    /// The values of the fields named `name`, in order.
    subscript(name: String) -> [String] {
        let lowercase = name.asciiLowercased
        return fields.filter { $0.name.equalsIgnoringASCIICase(string: lowercase) }.map(\.value)
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
