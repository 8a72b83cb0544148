import MeridianModel
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import MeridianGateway

@Suite("Parsing")
struct ParsingTests {
    @Test("traceparent: kept trace id, new span per hop, a new trace when absent or malformed")
    func traceContext() {
        var random = SplitMix64(seed: 42)
        let incoming = TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")!
        let hop = incoming.nextHop(using: &random)
        #expect(hop.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(hop.spanID != incoming.spanID)
        #expect(hop.spanID.count == 16)
        #expect(TraceContext(traceparent: hop.traceparent) == hop)
        #expect(TraceContext(traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01") == nil)
        #expect(TraceContext(traceparent: "garbage") == nil)
        let fresh = TraceContext.start(using: &random)
        #expect(fresh.traceID.count == 32 && fresh.flags == "01")
        // What the gateway sends: the same as parsing, the next hop and its header, with the same random numbers.
        for header in ["00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                       "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ab"] {
            var a = SplitMix64(seed: 7), b = SplitMix64(seed: 7)
            #expect(TraceContext.nextTraceparent(after: header, using: &a) == TraceContext(traceparent: header)!.nextHop(using: &b).traceparent)
        }
        for header in [nil, "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"] {
            var a = SplitMix64(seed: 9), b = SplitMix64(seed: 9)
            let started = TraceContext.nextTraceparent(after: header, using: &a)
            let parsed = TraceContext(traceparent: started)
            #expect(parsed != nil && parsed?.flags == "01" && !started.contains("00f067aa0ba902b7"), "\(started)")
            // Written in one string: the same as a started context's header, with the same random numbers.
            #expect(started == TraceContext.start(using: &b).traceparent)
        }
    }

    @Test("the traceparent held inline is the one written as a string, continued or started; the access record shows it")
    func inlineTraceparent() {
        for header in ["00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-0B", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-ab",
                       nil, "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"] {
            // Expected: parsed, then the next hop (or a new trace), then its header, as strings of their own.
            var a = SplitMix64(seed: 11), b = SplitMix64(seed: 11)
            let expected = (header.flatMap(TraceContext.init(traceparent:))?.nextHop(using: &a) ?? TraceContext.start(using: &a)).traceparent
            let inline = if let header {
                header.withUTF8Bytes { TraceContext.nextTraceparentValue(afterBytes: $0, using: &b) }
            } else {
                TraceContext.nextTraceparentValue(afterBytes: nil, using: &b)
            }
            #expect(inline.string == expected && expected.utf8.count == 55, "\(header ?? "nil")")
            inline.withBytes { #expect(Array($0) == Array(expected.utf8)) }
            // Relayed from its bytes, the field is the one relayed from the string.
            var fromValue = HeaderFields([("x-a", "1")]), fromString = fromValue
            fromValue.relay(sourceCluster: "east", service: "chat", dataClass: "public", traceparent: inline)
            fromString.relay(settingMeshFields: HeaderFields.meshFields(source: "east", service: "chat", dataClass: "public", traceparent: expected))
            #expect(fromValue == fromString && fromValue.first(.traceparent) == expected)
            // The access record: the value sent, as text; a refused request's incoming header when set as a string.
            var record = AccessRecord(listener: "local", method: "GET", path: "/", service: nil, dataClass: nil, source: "east", caller: nil,
                                      destination: nil, endpoint: nil, level: nil, reason: "", tableVersion: nil, status: 200, attempts: 1,
                                      durationSeconds: 0, requestBytes: 0, responseBytes: 0, sentTraceparent: inline,
                                      receivedTraceparent: nil, error: nil)
            #expect(record.traceparent == expected && record.json.contains("\"traceparent\":\"\(expected)\""))
            record.traceparent = "t0"
            #expect(record.traceparent == "t0" && record.sentTraceparent == nil)
        }
    }

    @Test("hex digits written eight at a time are String(radix: 16), zero-padded to 16, for edge and random values")
    func hexDigits() {
        var random = SplitMix64(seed: 3)
        var values: [UInt64] = [0, 1, 9, 10, 15, 16, 0xA, 0xF0, 0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210, .max, .max - 1, 1 << 63, 0x9999_9999_AAAA_AAAA]
        for _ in 0..<2000 { values.append(random.next()) }
        for value in values {
            let expected = String(repeating: "0", count: 16 - String(value, radix: 16).count) + String(value, radix: 16)
            #expect(TraceContext.hex(value) == expected, "\(expected)")
            #expect(TraceContext.hex(value, ~value) == expected + TraceContext.hex(~value))
        }
    }

    @Test("an HTTP/2 name is a lowercase token, read eight bytes at a time, exactly when each byte is one: every byte value at every position")
    func lowercaseTokenNames() {
        func bytewise(_ byte: UInt8) -> Bool { byte.isHTTPTokenByte && !byte.isASCIIUppercase }
        for byte in UInt8.min...UInt8.max {
            #expect(byte.isLowercaseHTTPTokenByte == bytewise(byte), "\(byte)")
        }
        // Names of 1 to 19 bytes (no word, one, two, and a tail), each position given each byte value.
        let filler = Array("content-type-x-9abc".utf8)
        for length in 1...filler.count {
            for position in 0..<length {
                for byte in UInt8.min...UInt8.max {
                    var name = Array(filler[..<length])
                    name[position] = byte
                    let expected = name.allSatisfy(bytewise)
                    #expect(name.withUnsafeBufferPointer(HeaderFields.isLowercaseToken) == expected, "\(name)")
                    if length >= 8 && position < 8 {
                        let word = name.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                        let common = name[..<8].allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
                        #expect(HeaderFields.commonNameBytes(word) == common, "\(name)")
                    }
                }
            }
        }
    }

    @Test("eight bytes are hex digits at once exactly when each byte is: every byte value at every position, and random words")
    func hexDigitWords() {
        func bytewise(_ word: UInt64) -> Bool {
            (0..<8).allSatisfy { UInt8(truncatingIfNeeded: word >> (8 * $0)).isASCIIHexDigit }
        }
        let filler = UInt64(0x3961_4630_6641_3966)   // "f9A0fFa9"-like: hex digits of every kind
        for byte in UInt8.min...UInt8.max {
            for position in 0..<8 {
                let word = filler & ~(0xFF << (8 * UInt64(position))) | UInt64(byte) << (8 * UInt64(position))
                #expect(TraceContext.allHexDigits(word) == byte.isASCIIHexDigit, "\(byte) at \(position)")
            }
        }
        var random = SplitMix64(seed: 11)
        let hex = Array("0123456789abcdefABCDEF".utf8)
        for _ in 0..<20_000 {
            // Words mostly of hex digits, with a random byte here and there (all-random words are almost never hex).
            var word: UInt64 = 0
            for position in 0..<8 {
                let draw = random.next()
                let byte = draw % 4 == 0 ? UInt8(truncatingIfNeeded: draw >> 8) : hex[Int(draw >> 8) % hex.count]
                word |= UInt64(byte) << (8 * UInt64(position))
            }
            #expect(TraceContext.allHexDigits(word) == bytewise(word), "\(String(word, radix: 16))")
        }
    }

    @Test("a token byte is exactly RFC 9110's tchar: letters, digits and !#$%&'*+-.^_`|~")
    func tokenBytes() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(byte.isHTTPTokenByte == tchar.contains(byte), "\(byte)")
        }
    }

    @Test("traceparent edge cases: case, versions, lengths")
    func traceContextEdgeCases() {
        let upper = TraceContext(traceparent: "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01")
        #expect(upper?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" && upper?.spanID == "00f067aa0ba902b7")
        #expect(TraceContext(traceparent: "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == nil)
        #expect(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ab") == nil)
        #expect(TraceContext(traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ab")?.flags == "01")
        #expect(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01") == nil)
        #expect(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01") == nil)
        #expect(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0") == nil)
        #expect(TraceContext(traceID: "0000000000000000000000000000000a", spanID: TraceContext.hex(0xab)).traceparent
                == "00-0000000000000000000000000000000a-00000000000000ab-01")
    }

    @Test("authorities and header values: case, ports, trailing dot, whitespace")
    func requestTargetEdgeCases() {
        #expect(RequestTarget.service(fromAuthority: "llama.meridian.") == "llama")
        #expect(RequestTarget.service(fromAuthority: "LLAMA.MERIDIAN:8080") == "llama")
        #expect(RequestTarget.service(fromAuthority: ".meridian") == nil)
        #expect(RequestTarget.service(fromAuthority: "meridian") == nil)
        #expect(RequestTarget.service(fromAuthority: "[::1]:15001") == nil)
        let head = RequestHead(version: .http1_1, method: .GET, uri: "/",
                                   headers: HeaderFields([("meridian-service", " \tChat "), ("meridian-data-class", "  ")]))
        #expect(RequestTarget(head: head) == RequestTarget(service: "chat", requestedClass: nil))
        func target(_ fields: [(String, String)]) -> RequestTarget? {
            RequestTarget(head: RequestHead(version: .http1_1, method: .GET, uri: "/", headers: HeaderFields(fields)))
        }
        // A blank header names nothing: the authority does.
        #expect(target([("meridian-service", " \t "), ("host", "llama.meridian")])?.service == "llama")
        #expect(target([("meridian-service", "\t")]) == nil)
        // The class keeps its case (the policy's names are compared as they are); the service is lowercased,
        // beyond ASCII too.
        #expect(target([("meridian-service", "CHAT"), ("meridian-data-class", " EU-Only\t")]) == RequestTarget(service: "chat", requestedClass: "EU-Only"))
        #expect(target([("meridian-service", "Ünï")])?.service == "Ünï".lowercased())
        // The first of each field counts.
        #expect(target([("meridian-service", "a"), ("meridian-service", "b"), ("meridian-data-class", "x"), ("meridian-data-class", "y")])
                == RequestTarget(service: "a", requestedClass: "x"))
    }

    @Test("a kept admission is matched on a head's bytes exactly when its strings would match: every head against every target read from them")
    func targetNamedOnBytes() {
        let fieldSets: [[(String, String)]] = [
            [("meridian-service", "chat")], [("meridian-service", " \tChat ")], [("meridian-service", "CHAT"), ("meridian-data-class", " EU-Only\t")],
            [("meridian-service", "chat"), ("meridian-data-class", "eu-only")], [("meridian-service", "chat"), ("meridian-data-class", "  ")],
            [("meridian-service", "chats")], [("meridian-service", "cha")], [("meridian-service", "Ünï")], [("meridian-service", "ünï")],
            [("meridian-service", " \t "), ("host", "llama.meridian")], [("host", "LLAMA.Meridian:15001")], [("host", "llama.meridian.")],
            [("host", "chat.meridian"), ("meridian-data-class", "eu-only")], [("host", "chat.meridian"), ("meridian-data-class", "EU-only")],
            [("host", "example.com")], [("meridian-service", "\t")], [("meridian-service", "a"), ("meridian-service", "b"), ("meridian-data-class", "x"), ("meridian-data-class", "y")],
            [("meridian-service", "b"), ("meridian-data-class", "x")], [("meridian-service", "a"), ("meridian-data-class", "y")],
            [("meridian-data-class", "x"), ("meridian-service", "a")], [("meridian-service", "chat"), ("meridian-data-class", "eu-\u{f6}nly")],
        ]
        let heads = fieldSets.map { RequestHead(version: .http1_1, method: .GET, uri: "/", headers: HeaderFields($0)) }
        let targets = heads.compactMap { RequestTarget(head: $0) } + [RequestTarget(service: "chat", requestedClass: "eu-\u{f6}nly")]
        var matched = 0
        for head in heads {
            for target in targets {
                let byBytes = RequestTarget.names(head, service: target.service, requestedClass: target.requestedClass)
                let read = RequestTarget(head: head)
                // A match on the bytes is a match of the strings; the strings match without the bytes only where a name is
                // not ASCII (then the strings are read, as before).
                if byBytes { #expect(read == target, "\(head.headers) names \(target)") }
                if read == target, read?.service.utf8.allSatisfy({ $0 < 0x80 }) == true {
                    #expect(byBytes, "\(head.headers) should name \(target) on its bytes")
                }
                if byBytes { matched += 1 }
            }
        }
        #expect(matched >= 20)
    }

    @Test("the service comes from the header, else the authority SERVICE.meridian")
    func requestTarget() {
        func head(_ headers: [(String, String)]) -> RequestHead {
            RequestHead(version: .http1_1, method: .GET, uri: "/", headers: HeaderFields(headers))
        }
        #expect(RequestTarget(head: head([("host", "llama.meridian:15001")]))?.service == "llama")
        #expect(RequestTarget(head: head([("host", "Llama.Meridian")]))?.service == "llama")
        #expect(RequestTarget(head: head([("host", "localhost:15001"), ("meridian-service", "chat")]))?.service == "chat")
        #expect(RequestTarget(head: head([("host", "example.com")])) == nil)
        #expect(RequestTarget(head: head([("host", "a.b.meridian")])) == nil)
        let target = RequestTarget(head: head([("host", "chat.meridian"), ("meridian-data-class", "eu-only")]))
        #expect(target?.requestedClass == "eu-only")
    }

    @Test("an authority has only RFC 3986's characters; a local client's request names one at most", arguments: [
        ("chat.meridian", true), ("chat.meridian:15001", true), ("[::1]:8080", true), ("h%41st:1", true), ("", true), ("user@host", false),
        ("chat.meridian evil", false), ("chat.meridian/x", false), ("chat.meridian\t", false), ("chät.meridian", false),
        ("a\"b", false), ("a<b>", false), ("a?b", false), ("a#b", false), ("a\\b", false),
    ])
    func authorityCharacters(authority: String, valid: Bool) {
        #expect(RequestTarget.isValidAuthority(authority) == valid)
        let refusal = ForwardingWorker.checkLocalHead(HeaderFields([("Host", authority)]))
        #expect((refusal == nil) == valid)
        if let refusal { #expect(refusal.error.status == 400 && refusal.error.field == "host") }
    }

    @Test("two host fields are refused, whatever their case")
    func twoHosts() {
        let refusal = ForwardingWorker.checkLocalHead(HeaderFields([("host", "chat.meridian"), ("HOST", "chat.meridian")]))
        #expect(refusal?.error.status == 400 && refusal?.error.field == "host")
        #expect(ForwardingWorker.checkLocalHead(HeaderFields([("meridian-service", "chat")])) == nil, "an h2c request may leave :authority out")
        let none = ForwardingWorker.checkLocalHead(HeaderFields([("meridian-service", "chat")]), version: .http1_1)
        #expect(none?.error.status == 400 && none?.error.field == "host", "an HTTP/1.1 request must name one")
        #expect(ForwardingWorker.checkLocalHead(HeaderFields([("meridian-service", "chat")]), version: .http1_0) == nil)
    }

    @Test("a method's name is NIO's rawValue, for every method NIO names and others")
    func methodNames() {
        let methods: [HTTPMethod] = [.GET, .PUT, .ACL, .HEAD, .POST, .COPY, .LOCK, .MOVE, .BIND, .LINK, .PATCH, .TRACE, .MKCOL, .MERGE,
                                     .PURGE, .NOTIFY, .SEARCH, .UNLOCK, .REBIND, .UNBIND, .REPORT, .DELETE, .UNLINK, .CONNECT, .MSEARCH,
                                     .OPTIONS, .PROPFIND, .CHECKOUT, .PROPPATCH, .SUBSCRIBE, .MKCALENDAR, .MKACTIVITY, .UNSUBSCRIBE,
                                     .SOURCE, .RAW(value: "BREW")]
        for method in methods {
            #expect(method.name == method.rawValue, "\(method)")
            #expect(method.isHEAD == (method.rawValue == "HEAD") && method.isCONNECT == (method.rawValue == "CONNECT")
                        && method.isTRACE == (method.rawValue == "TRACE"), "\(method)")
        }
    }

    @Test("h2 preface tells h2c from HTTP/1.1")
    func protocolDetection() {
        #expect(ProtocolDetector.detect(Array("GET / HTTP/1.1\r\n".utf8)) == .http1)
        #expect(ProtocolDetector.detect(Array("PRI * HT".utf8)) == nil)
        #expect(ProtocolDetector.detect(ProtocolDetector.preface) == .http2)
        #expect(ProtocolDetector.detect(Array("PRIX".utf8)) == .http1)
    }

    @Test("hop-by-hop headers are dropped, te: trailers kept")
    func hopByHop() {
        var headers = HeaderFields([("connection", "keep-alive, x-private"), ("keep-alive", "5"), ("x-private", "1"), ("te", "trailers"),
                                   ("upgrade", "h2c"), ("content-type", "application/grpc"), ("transfer-encoding", "chunked")])
        headers.removeHopByHop()
        #expect(headers.first(name: "te") == "trailers")
        #expect(headers.first(name: "content-type") == "application/grpc")
        #expect(headers.first(name: "transfer-encoding") == "chunked")
        for name in ["connection", "keep-alive", "x-private", "upgrade"] { #expect(!headers.contains(name: name)) }

        var mixedCase = HeaderFields([("Server", "nginx"), ("X-Private", "1"), ("Connection", "Keep-Alive, X-PRIVATE, close"),
                                     ("TE", "Trailers"), ("Proxy-Authorization", "secret"), ("Content-Length", "5")])
        mixedCase.removeHopByHop()
        #expect(mixedCase.map { "\($0.name): \($0.value)" } == ["Server: nginx", "Content-Length: 5", "te: trailers"])
        var framing = HeaderFields([("Host", "a.meridian"), ("Content-Length", "5"), ("Connection", ",, content-length , Host,x-a ,"), ("X-A", "1")])
        framing.removeHopByHop()
        #expect(framing.map { "\($0.name): \($0.value)" } == ["Host: a.meridian", "Content-Length: 5"],
                "a connection token never drops the length (or the host): the body would be read as the next request")
        var untouched = HeaderFields([("content-type", "text/plain"), ("x-teapot", "1"), ("hosts", "2")])
        untouched.removeHopByHop()
        #expect(untouched.map(\.name) == ["content-type", "x-teapot", "hosts"])
    }

    @Test("header names are recognised and lowercased in any ASCII case, unknown ones untouched")
    func headerNames() {
        #expect(HeaderName.known("Transfer-Encoding") == .transferEncoding)
        #expect(HeaderName.known("KEEP-ALIVE") == .keepAlive)
        #expect(HeaderName.known("Meridian-Source-Cluster") == .meridianSourceCluster)
        #expect(HeaderName.known("connectiom") == nil)
        #expect(HeaderName.known("x-te") == nil)
        // Lowercased where a head becomes an HTTP/2 block, values as they are.
        let block = StreamFrame.Headers(response: ResponseHead(version: .http1_1, status: .ok, headers: HeaderFields([
            ("Content-Type", "Text/Plain"), ("X-Content-Type-Options", "nosniff"), ("X-Model-Shard", "A"), ("x-model-shard", "b"),
        ]))).block
        #expect(block.fields.map(\.name) == [":status", "content-type", "x-content-type-options", "x-model-shard", "x-model-shard"])
        #expect(block.fields.map(\.value) == ["200", "Text/Plain", "nosniff", "A", "b"])
        #expect("Last-Modified".withUTF8Bytes { $0.equalsIgnoringASCIICase("last-modified") })
        #expect(!"Last-Modifiec".withUTF8Bytes { $0.equalsIgnoringASCIICase("last-modified") })
    }

    @Test("names are compared eight bytes at a time exactly as byte by byte: only A-Z fold, at every position and length; CR, '@', '[', '`', '{' and bytes from 0x80 never match a letter or '-'")
    func caseFoldingIsExact() {
        // The eight-byte fold against the byte fold, for every byte value at every position of a word.
        for position in 0..<8 {
            for value in 0...255 {
                var bytes = [UInt8](repeating: UInt8(ascii: "Q"), count: 8)
                bytes[position] = UInt8(value)
                let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                let folded = UnsafeBufferPointer<UInt8>.asciiLowercased(word)
                let expected = bytes.map(\.asciiLowercased).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                #expect(folded == expected, "byte \(value) at \(position)")
            }
        }
        // Names of 2 to 23 bytes (every length HeaderName knows), each byte changed to every value: a match exactly
        // when the byte fold matches.
        let names: [StaticString] = ["te", "host", "expect", "upgrade", "connection", "traceparent", "content-length",
                                     "meridian-service", "transfer-encoding", "proxy-authenticate", "meridian-data-class",
                                     "meridian-source-cluster"]
        for name in names {
            let lowercase = Array(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            for position in 0..<lowercase.count {
                for value in 0...255 {
                    var bytes = lowercase.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }   // uppercase
                    bytes[position] = UInt8(value)
                    let expected = zip(bytes, lowercase).allSatisfy { $0.asciiLowercased == $1 }
                    #expect(bytes.withUnsafeBufferPointer { $0.equalsIgnoringASCIICase(name) } == expected, "\(name) \(position) \(value)")
                }
            }
        }
    }

    @Test("the mesh fields replace any a client sent, whatever their case, and are added when absent")
    func meshFields() {
        let fields = [("meridian-source-cluster", "east"), ("meridian-service", "chat"), ("traceparent", "00-new")].map(HeaderFields.Field.init)
        var forged = HeaderFields([("Meridian-Source-Cluster", "evil"), ("accept", "*/*"), ("TRACEPARENT", "00-old"), ("meridian-source-cluster", "evil2"),
                                  ("Connection", "keep-alive")])
        forged.relay(settingMeshFields: fields)
        #expect(forged.map { "\($0.name): \($0.value)" } == ["accept: */*", "meridian-source-cluster: east", "meridian-service: chat", "traceparent: 00-new"])
        var plain = HeaderFields([("accept", "*/*")])
        plain.relay(settingMeshFields: fields)
        #expect(plain.map { "\($0.name): \($0.value)" } == ["accept: */*", "meridian-source-cluster: east", "meridian-service: chat", "traceparent: 00-new"])
    }

    @Test("DCGM exporter and vLLM text become GPU pools and service load")
    func inventory() {
        let dcgm = """
            # HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
            # TYPE DCGM_FI_DEV_GPU_UTIL gauge
            DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="n1"} 37
            DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-b",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="n1"} 0
            DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-a",modelName="NVIDIA H100 80GB HBM3"} 40000
            DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-a",modelName="NVIDIA H100 80GB HBM3"} 41920
            DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-b",modelName="NVIDIA H100 80GB HBM3"} 0
            DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-b",modelName="NVIDIA H100 80GB HBM3"} 81920
            DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-c",modelName="NVIDIA A100-SXM4-80GB"} 90
            """
        let pools = InventoryScraper.gpuPools(from: PrometheusText.parse(dcgm))
        #expect(pools.map(\.model) == ["A100", "H100"])
        let h100 = pools.first { $0.model == "H100" }!
        #expect(h100.total == 2 && h100.inUse == 1)
        #expect(abs(h100.utilization - 0.185) < 0.0001)
        #expect(h100.memoryGiB == 80)

        let vllm = """
            vllm:num_requests_waiting{model_name="meta-llama/Llama-3.1-8B"} 3
            vllm:num_requests_running{model_name="meta-llama/Llama-3.1-8B"} 7
            vllm:gpu_cache_usage_perc{model_name="meta-llama/Llama-3.1-8B"} 0.41
            """
        let load = InventoryScraper.serviceLoad(service: "llama", from: PrometheusText.parse(vllm), healthyEndpoints: 2)
        #expect(load == ServiceLoad(service: "llama", queueDepth: 3, kvCacheUtilization: 0.41, healthyEndpoints: 2))
    }

    @Test("Prometheus text: escapes, special values, timestamps")
    func prometheusText() {
        let samples = PrometheusText.parse("""
            a{l="x\\"y",m="1"} +Inf 1700000000
            b 2.5
            c{} NaN
            bad{unterminated="x} 1
            """)
        #expect(samples.count == 3)
        #expect(samples[0].labels == ["l": "x\"y", "m": "1"])
        #expect(samples[0].value == .infinity)
        #expect(samples[1].value == 2.5)
        #expect(samples[2].value.isNaN)
    }

    @Test("local endpoints: HOST:PORT, h2c://, IPv6")
    func endpoints() {
        #expect(LocalEndpoint("127.0.0.1:8000") == LocalEndpoint(host: "127.0.0.1", port: 8000))
        #expect(LocalEndpoint("h2c://grpc:50051")?.wireProtocol == .h2c)
        #expect(LocalEndpoint("[::1]:8000")?.host == "::1")
        #expect(LocalEndpoint("nohost") == nil)
        #expect(LocalEndpoint("host:99999") == nil)
    }
}

@Suite("Response framing to HTTP/1.x clients")
struct ResponseFramingTests {
    static func head(_ status: Int, version: HTTPVersion = .http1_1, _ fields: [(String, String)]) -> ResponseHead {
        ResponseHead(version: version, status: .init(statusCode: status), headers: HeaderFields(fields))
    }

    @Test("the framing follows the status, the method and the version, and the head's fields match it")
    func framing() {
        var head = Self.head(200, [("Transfer-Encoding", "chunked")])
        #expect(BodyFraming.response(&head, requestMethod: .GET) == .chunked)
        #expect(head.headers["transfer-encoding"] == ["chunked"])

        head = Self.head(200, [])
        #expect(BodyFraming.response(&head, requestMethod: .POST) == .chunked)
        #expect(head.headers["transfer-encoding"] == ["chunked"])

        head = Self.head(200, [("content-length", "5")])
        #expect(BodyFraming.response(&head, requestMethod: .GET) == .length)
        #expect(!head.headers.contains(name: "transfer-encoding") && head.headers["content-length"] == ["5"])

        head = Self.head(200, [("transfer-encoding", "chunked")])
        #expect(BodyFraming.response(&head, requestMethod: .HEAD) == .none)
        #expect(!head.headers.contains(name: "transfer-encoding"))
        head = Self.head(200, [("content-length", "42")])
        #expect(BodyFraming.response(&head, requestMethod: .HEAD) == .none)
        #expect(head.headers["content-length"] == ["42"], "a HEAD response keeps the GET's length")

        for status in [204, 304] {
            head = Self.head(status, [("content-length", "0"), ("transfer-encoding", "chunked")])
            #expect(BodyFraming.response(&head, requestMethod: .GET) == .none)
            #expect(head.headers.count == 0)
        }

        head = Self.head(200, [("content-length", "5"), ("transfer-encoding", "chunked")])
        head.headers.remove(name: "content-length")
        head.headers.add(name: "content-length", value: "5")
        #expect(BodyFraming.response(&head, requestMethod: .GET) == .chunked, "with both, transfer-encoding frames the body (RFC 9112 6.3)")
        #expect(!head.headers.contains(name: "content-length") && head.headers["transfer-encoding"] == ["chunked"])

        head = Self.head(200, version: .http1_0, [("transfer-encoding", "chunked"), ("connection", "keep-alive")])
        #expect(BodyFraming.response(&head, requestMethod: .GET) == .untilClose)
        #expect(!head.headers.contains(name: "transfer-encoding") && head.headers["connection"] == ["close"])
        head = Self.head(200, version: .http1_0, [("content-length", "3")])
        #expect(BodyFraming.response(&head, requestMethod: .GET) == .length)
    }

    @Test("a chunk is its size in lowercase hexadecimal, CRLF, the bytes, CRLF", arguments: [1, 9, 15, 16, 210, 255, 4096, 65_535, 65_536, 1_048_577])
    func chunk(size: Int) {
        let bytes = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
        let chunk = BodyFraming.chunk(bytes, allocator: ByteBufferAllocator())
        let expected = Array("\(String(size, radix: 16))\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: size) + Array("\r\n".utf8)
        #expect(Array(chunk.readableBytesView) == expected)
    }
}
