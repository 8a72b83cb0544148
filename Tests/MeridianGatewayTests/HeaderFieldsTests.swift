import NIOCore
import NIOHPACK
import NIOHTTP1
import Testing

@testable import MeridianGateway

/// ``HeaderFields`` answers as NIO's `HTTPHeaders` does for what the gateway asks of it, and every field's ``HeaderFields/Field/known``
/// is what its name says, however the field was made.
@Suite("Header fields")
struct HeaderFieldsTests {
    static let names = ["Host", "host", "HOST", "content-length", "Content-Type", "TE", "te", "meridian-retry", "Meridian-Retry",
                        "x-custom", "X-Custom", "traceparent", "Transfer-Encoding", "connection", "keep-alive", "x-hosts", "hos"]

    @Test("first, contains, the values of a name and count answer as NIO's HTTPHeaders, for names in any case, known or not")
    func lookups() {
        let pairs = Self.names.enumerated().map { ($0.element, "v\($0.offset)") }
        let ours = HeaderFields(pairs)
        let nio = HTTPHeaders(pairs)
        #expect(ours.count == nio.count)
        for name in Self.names + ["absent", "HoSt", "CONTENT-type", "x-CUSTOM"] {
            #expect(ours.first(name: name) == nio.first(name: name), "\(name)")
            #expect(ours.contains(name: name) == nio.contains(name: name), "\(name)")
            #expect(ours[name] == nio[name], "\(name)")
        }
        #expect(Array(ours.map(\.name)) == Array(nio.map(\.name)), "order and spelling kept")
    }

    @Test("the declared length: none, one field, a list of equal values, fields that agree; nil when they disagree or are not numbers")
    func declaredLength() {
        #expect(HeaderFields([("x-a", "1")]).declaredLength == nil)
        #expect(HeaderFields([("Content-Length", "1024")]).declaredLength == 1024)
        #expect(HeaderFields([("content-length", " 7 , 7")]).declaredLength == 7)
        #expect(HeaderFields([("content-length", "7"), ("x-a", "1"), ("content-length", "7")]).declaredLength == 7)
        #expect(HeaderFields([("content-length", "7"), ("content-length", "8")]).declaredLength == nil)
        #expect(HeaderFields([("content-length", "-1")]).declaredLength == nil)
        #expect(HeaderFields([("content-length", "")]).declaredLength == nil)
    }

    @Test("remove and replaceOrAdd change the fields as NIO's do, and the result stays classified")
    func changes() {
        let pairs = Self.names.enumerated().map { ($0.element, "v\($0.offset)") }
        for name in Self.names + ["absent"] {
            var ours = HeaderFields(pairs)
            var nio = HTTPHeaders(pairs)
            ours.remove(name: name)
            nio.remove(name: name)
            #expect(ours.map { "\($0.name)=\($0.value)" } == nio.map { "\($0.name)=\($0.value)" }, "remove \(name)")
            ours.replaceOrAdd(name: name.uppercased(), value: "new")
            nio.replaceOrAdd(name: name.uppercased(), value: "new")
            #expect(ours.map { "\($0.name)=\($0.value)" } == nio.map { "\($0.name)=\($0.value)" }, "replaceOrAdd \(name)")
            #expect(ours.fields.allSatisfy { $0.known == HeaderName.known($0.name) })
        }
    }

    @Test("every field a parser, a block's translation or the relay makes carries the class of its name")
    func classifiedWhereTheyArrive() throws {
        var parser = HTTP1Parser(.request, maxHeadBytes: 4096)
        var parsed: RequestHead?
        // (No framing fields: the head ends the request.)
        let text = "POST /v1 HTTP/1.1\r\n" + Self.names.filter { HeaderName.known($0) != .contentLength && HeaderName.known($0) != .transferEncoding }
            .map { "\($0): 1\r\n" }.joined() + "\r\n"
        try parser.parse(ByteBuffer(string: text)) { if case .request(let head) = $0 { parsed = head } }
        let head = try #require(parsed)
        #expect(head.headers.count == Self.names.count - 2)
        #expect(head.headers.fields.allSatisfy { $0.known == HeaderName.known($0.name) })
        #expect(head.headers.fields.filter { $0.known == .meridianRetry }.count == 2)
        #expect(head.headers.fields.filter { $0.known == .contentType }.count == 1)

        let block = HeaderFields([(":method", "POST"), (":scheme", "https"), (":path", "/"), ("content-type", "application/grpc"),
                                  ("meridian-retry", "true"), ("content-length", "3"), ("x-a", "1")])
        let translated = try RequestHead.proxying(block, endStream: false).head
        #expect(translated.headers.fields.allSatisfy { $0.known == HeaderName.known($0.name) })
        let flags = translated.headers.exchangeFields(version: .http2)
        #expect(flags.isGRPC && flags.asksRetry && flags.keepsAlive)

        var relayed = translated.headers
        relayed.relay(settingMeshFields: [HeaderFields.Field(name: "meridian-service", value: "chat", known: .meridianService)])
        #expect(relayed.fields.allSatisfy { $0.known == HeaderName.known($0.name) })
        #expect(relayed.first(.meridianService) == "chat")

        // The admission's relay, four mesh fields from their values, is the general one with those four fields.
        var forged = HeaderFields([("Meridian-Service", "forged"), ("x-a", "1"), ("Connection", "x-a, keep-alive"), ("TRACEPARENT", "t0")])
        var general = forged
        var random = SplitMix64(seed: 1)
        let traceparent = TraceContext.nextTraceparentValue(afterBytes: nil, using: &random)
        let t1 = traceparent.string
        forged.relay(sourceCluster: "east", service: "chat", dataClass: "public", traceparent: traceparent)
        general.relay(settingMeshFields: HeaderFields.meshFields(source: "east", service: "chat", dataClass: "public", traceparent: t1))
        #expect(forged == general)
        #expect(forged.map { "\($0.name)=\($0.value)" } == ["meridian-source-cluster=east", "meridian-service=chat", "meridian-data-class=public",
                                                               "traceparent=\(t1)"])
        #expect(forged.fields.allSatisfy { $0.known == HeaderName.known($0.name) })
    }

    @Test("the exchange's flags: a gRPC content type and a retry asked for, in any case, the first field of each name only")
    func exchangeFlags() {
        func flags(_ pairs: [(String, String)], _ version: HTTPVersion = .http1_1) -> HeaderFields.ExchangeFields {
            HeaderFields(pairs).exchangeFields(version: version)
        }
        #expect(flags([("Content-Type", "Application/GRPC+proto")]).isGRPC)
        #expect(!flags([("content-type", "application/json"), ("content-type", "application/grpc")]).isGRPC)
        #expect(flags([("MERIDIAN-RETRY", "TRUE")]).asksRetry)
        #expect(!flags([("meridian-retry", "false"), ("meridian-retry", "true")]).asksRetry)
        #expect(!flags([("connection", "close")]).keepsAlive)
        #expect(flags([("connection", "keep-alive")], .http1_0).keepsAlive)
        #expect(!flags([], .http1_0).keepsAlive)
    }

    @Test("a value's control characters are found eight bytes at a time exactly as byte by byte: every byte value, at every position, in values of 0 to 19 bytes")
    func fieldValueControlIsExact() {
        func slow(_ bytes: [UInt8]) -> UInt8? { bytes.first { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F } }
        for length in 0..<20 {
            for position in 0..<max(length, 1) {
                for value in 0...255 {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    if length > 0 { bytes[position] = UInt8(value) }
                    let fast = bytes.withUnsafeBytes { $0.firstFieldValueControl() }
                    #expect(fast == slow(bytes), "length \(length), byte \(value) at \(position)")
                }
            }
        }
        // Around bytes that borrow: a high byte, then one just above 0x20; tabs among them.
        for bytes: [UInt8] in [[0x80, 0x21, 0x20, 0x7E, 0x09, 0xFF, 0x00, 0x41], [0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x1F],
                               [0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x09, 0x7F], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]] {
            #expect(bytes.withUnsafeBytes { $0.firstFieldValueControl() } == slow(bytes), "\(bytes)")
        }
    }

    @Test("field bytes: copies are independent after either is written (grown, or appended within room), growth keeps every byte, names are lowercased only")
    func fieldBytesCopyOnWrite() {
        var original = FieldBytes(capacity: 4)
        var expected: [UInt8] = []
        for round in 0..<200 {
            let chunk = (0..<(round % 23)).map { UInt8(truncatingIfNeeded: round &* 31 &+ $0) }
            let copy = original
            let before = expected
            chunk.withUnsafeBufferPointer { _ = original.append($0) }
            expected += chunk
            #expect(original.withUnsafeBufferPointer { Array($0) } == expected, "round \(round)")
            #expect(copy.withUnsafeBufferPointer { Array($0) } == before, "the copy of round \(round) is unchanged")
        }
        var shared = FieldBytes(capacity: 256)
        "abc".withUTF8Bytes { _ = shared.append($0) }
        let kept = shared
        "Content-TYPE-x-Y".withUTF8Bytes { _ = shared.append($0) }
        #expect(shared.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) } == "abcContent-TYPE-x-Y")
        #expect(kept.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) } == "abc")
        // Lowercasing a name's bytes (for HTTP/2), and finding an uppercase letter, eight at a time: every byte value,
        // and every length from 0 to 23 at every start.
        let all = (0...255).map { UInt8($0) }
        var lowered = [UInt8](repeating: 0, count: all.count)
        all.withUnsafeBufferPointer { source in lowered.withUnsafeMutableBytes { source.copyASCIILowercased(to: $0.baseAddress!) } }
        #expect(lowered == all.map(\.asciiLowercased), "only A-Z change, eight at a time or one by one")
        let name = Array("x-Model-shard-PLUS-tail".utf8)
        for start in 0..<name.count {
            for end in start...name.count {
                let part = Array(name[start..<end])
                var out = [UInt8](repeating: 0, count: part.count)
                part.withUnsafeBufferPointer { source in out.withUnsafeMutableBytes { if let base = $0.baseAddress { source.copyASCIILowercased(to: base) } } }
                #expect(out == part.map(\.asciiLowercased), "\(start)..<\(end)")
                #expect(part.withUnsafeBufferPointer(\.hasASCIIUppercase) == part.contains(where: \.isASCIIUppercase), "\(start)..<\(end)")
            }
        }
    }
}

extension HeaderFields {
    /// The four mesh fields the admission's relay sets, for the general relay (`relay(settingMeshFields:)`) that the
    /// tests compare it with.
    static func meshFields(source: String, service: String, dataClass: String, traceparent: String) -> [Field] {
        [Field(name: "meridian-source-cluster", value: source, known: .meridianSourceCluster),
         Field(name: "meridian-service", value: service, known: .meridianService),
         Field(name: "meridian-data-class", value: dataClass, known: .meridianDataClass),
         Field(name: "traceparent", value: traceparent, known: .traceparent)]
    }
}
