import NIOCore
import NIOEmbedded
import Testing

@testable import MeridianGateway

/// ``HTTP2FrameAligner``: the bytes pass unchanged and in order, and no read passed on ends right after the header of
/// an unpadded DATA frame with a payload (where swift-nio-http2's decoder would stop starting its buffer over).
@Suite("HTTP/2 frame aligner")
struct HTTP2FrameAlignerTests {
    /// A client's byte stream: the preface, then frames of every kind the gateways see, and the offsets (from the
    /// stream's start) right after each header of an unpadded DATA frame with a payload.
    static func stream(dataLengths: [Int] = [16384, 16384, 1, 2, 9, 700, 16384, 0, 5000]) -> (bytes: [UInt8], dataHeaderEnds: Set<Int>) {
        var bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        var dataHeaderEnds: Set<Int> = []
        func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32, length: Int) {
            bytes += [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, flags]
            bytes += [UInt8(stream >> 24), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)]
            if type == 0 && flags & 0x08 == 0 && length > 0 { dataHeaderEnds.insert(bytes.count) }
            bytes += (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(type)) }
        }
        frame(type: 4, stream: 0, length: 18)              // SETTINGS
        frame(type: 1, flags: 4, stream: 1, length: 37)    // HEADERS
        for length in dataLengths { frame(type: 0, stream: 1, length: length) }
        frame(type: 0, flags: 0x08, stream: 1, length: 40) // padded DATA: passed as it is
        frame(type: 8, stream: 1, length: 4)               // WINDOW_UPDATE
        frame(type: 1, flags: 5, stream: 3, length: 12)    // HEADERS, END_STREAM
        frame(type: 0, flags: 1, stream: 1, length: 3)     // the last DATA, END_STREAM
        return (bytes, dataHeaderEnds)
    }

    /// Feeds `bytes` in reads of the given sizes; returns the reads the aligner passed on.
    static func run(_ bytes: [UInt8], reads sizes: [Int], server: Bool = true) throws -> [[UInt8]] {
        let channel = EmbeddedChannel(handler: HTTP2FrameAligner(server: server))
        var offset = 0
        for size in sizes where offset < bytes.count {
            let end = min(bytes.count, offset + size)
            try channel.writeInbound(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
        }
        var passed: [[UInt8]] = []
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { passed.append(Array(buffer.readableBytesView)) }
        _ = try channel.finish()
        return passed
    }

    /// Read sizes that end every read right after a DATA frame's header, the last with the rest.
    static func readsEndingAfterDataHeaders(_ stream: (bytes: [UInt8], dataHeaderEnds: Set<Int>)) -> [Int] {
        var sizes: [Int] = []
        var last = 0
        for end in stream.dataHeaderEnds.sorted() {
            sizes.append(end - last)
            last = end
        }
        sizes.append(stream.bytes.count - last)
        return sizes
    }

    static func check(_ passed: [[UInt8]], against stream: (bytes: [UInt8], dataHeaderEnds: Set<Int>)) {
        #expect(passed.flatMap { $0 } == stream.bytes, "the bytes pass unchanged and in order")
        #expect(!passed.contains { $0.isEmpty })
        var end = 0
        var endingAfterDataHeaders: [Int] = []   // one #expect, not one per read: there are thousands
        for read in passed {
            end += read.count
            if stream.dataHeaderEnds.contains(end) { endingAfterDataHeaders.append(end) }
        }
        #expect(endingAfterDataHeaders.isEmpty, "reads end right after DATA frames' headers at offsets \(endingAfterDataHeaders)")
    }

    @Test("reads that end right after DATA headers: each header goes on with the next read's first byte")
    func splitsAfterDataHeaders() throws {
        let stream = Self.stream()
        let sizes = Self.readsEndingAfterDataHeaders(stream)
        let passed = try Self.run(stream.bytes, reads: sizes)
        Self.check(passed, against: stream)
        // Nothing else is held: the reads passed on are as many as those fed, but for the reads of a header alone.
        #expect(passed.count <= sizes.count + stream.dataHeaderEnds.count)
    }

    @Test("one byte per read, and headers split across reads")
    func oneBytePerRead() throws {
        let stream = Self.stream(dataLengths: [1, 2, 9, 300, 0, 70])
        Self.check(try Self.run(stream.bytes, reads: Array(repeating: 1, count: stream.bytes.count)), against: stream)
        Self.check(try Self.run(stream.bytes, reads: Array(repeating: 4, count: stream.bytes.count)), against: stream)
    }

    @Test("reads of random sizes")
    func randomReads() throws {
        let stream = Self.stream()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var sizes: [Int] = []
            var total = 0
            while total < stream.bytes.count {
                sizes.append(Int.random(in: 1...20_000, using: &generator))
                total += sizes.last!
            }
            Self.check(try Self.run(stream.bytes, reads: sizes), against: stream)
        }
    }

    @Test("client side: frames from the first byte (no preface)")
    func clientSide() throws {
        let stream = Self.stream()
        let preface = 24
        let frames = (bytes: Array(stream.bytes.dropFirst(preface)), dataHeaderEnds: Set(stream.dataHeaderEnds.map { $0 - preface }))
        Self.check(try Self.run(frames.bytes, reads: Self.readsEndingAfterDataHeaders(frames), server: false), against: frames)
    }

    @Test("a read that is whole frames passes as it is")
    func wholeFramesPassUnsplit() throws {
        let stream = Self.stream()
        let passed = try Self.run(stream.bytes, reads: [stream.bytes.count])
        #expect(passed.count == 1)
        Self.check(passed, against: stream)
    }
}
