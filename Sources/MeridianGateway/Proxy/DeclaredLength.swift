import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// RFC 9113 section 8.1.1 on a received HTTP/2 message: the DATA of a message whose `content-length` names a length
/// adds up to it, or the message is malformed (a stream error, `PROTOCOL_ERROR`). On the tunnel the gateway checks
/// this itself instead of `NIOHTTP2Handler` (``HTTP2Tuning``): NIO's check read every received header block for the
/// field a second time, about 3,200 instructions per request per gateway, where this one reads it in one short scan.
///
/// It is what keeps a request smuggled in a body from reaching a local endpoint: relayed to HTTP/1.1, a body longer
/// than its length would be read by the endpoint as a second request that no admission check saw.
struct DeclaredLength {
    /// The bytes still to come; `nil` when the message names no length (or nothing is checked).
    private var remaining: Int?

    /// Nothing checked: streams whose connection has `NIOHTTP2Handler` check lengths.
    static let unchecked = DeclaredLength(remaining: nil)

    private init(remaining: Int?) {
        self.remaining = remaining
    }

    /// The length a received head declares, as NIO's verifier reads it: a response to HEAD, and a 304, may carry no
    /// DATA whatever it names; several `content-length` values (fields, or a comma-separated list) must agree; a
    /// value that is not a non-negative decimal number is malformed. `requestMethod` and `status`: for a response.
    init(_ block: HPACKHeaders, requestMethod: HTTPMethod? = nil, status: Int? = nil) throws {
        if requestMethod == .HEAD || status == 304 {
            remaining = 0
            return
        }
        var declared: Substring?
        for (name, value, _) in block where name.utf8.count == 14 && name.equalsIgnoringASCIICase("content-length") {
            var rest = Substring(value)
            while true {
                let comma = rest.utf8.firstIndex(of: UInt8(ascii: ","))
                let element = (comma.map { rest[..<$0] } ?? rest).trimmingOptionalWhitespace
                if let declared, declared != element { throw NIOHTTP2Errors.contentLengthHeadersMismatch() }
                declared = element
                guard let comma else { break }
                rest = rest[rest.utf8.index(after: comma)...]
            }
        }
        guard let declared else {
            remaining = nil
            return
        }
        guard let length = Int(declared, radix: 10) else { throw NIOHTTP2Errors.contentLengthHeaderMalformedValue() }
        guard length >= 0 else { throw NIOHTTP2Errors.contentLengthHeaderNegative() }
        remaining = length
    }

    /// A DATA frame's payload arrived: more than the rest of the declared length is a violation.
    mutating func received(_ bytes: Int) throws {
        guard let remaining else { return }
        guard bytes <= remaining else { throw NIOHTTP2Errors.contentLengthViolated() }
        self.remaining = remaining - bytes
    }

    /// The message ended (END_STREAM): less than the declared length is a violation.
    func ended() throws {
        if let remaining, remaining != 0 { throw NIOHTTP2Errors.contentLengthViolated() }
    }
}
