import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

@testable import MeridianGateway

/// ``HTTP2FrameAligner``: the bytes pass unchanged and in order, and no read passed on ends where swift-nio-http2's
/// decoder would wait without starting its buffer over (a "stall"): inside a frame header or the payload of a frame
/// that is not DATA; right after the header of a DATA frame with a payload; for a padded DATA frame, also right after
/// its pad-length byte and from the end of its data to the end of its padding.
@Suite("HTTP/2 frame aligner")
struct HTTP2FrameAlignerTests {
    typealias Stream = (bytes: [UInt8], stalls: Set<Int>)

    /// A DATA frame: its data's length, and its padding (`nil`: not padded; `0`: padded with a pad length of zero).
    struct DataFrame {
        var length: Int
        var padding: Int? = nil
    }

    /// A client's byte stream: the preface, then frames of every kind the gateways see, and the offsets (from the
    /// stream's start) where a read must not end.
    static func stream(
        data: [DataFrame] = [16384, 16384, 1, 2, 9, 700, 16384, 0, 5000].map { DataFrame(length: $0) } + [DataFrame(length: 39, padding: 0)]
    ) -> Stream {
        var bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        var stalls: Set<Int> = []
        func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32, length: Int, padding: Int? = nil) {
            let payload = length + (padding.map { $0 + 1 } ?? 0)
            bytes += [UInt8(payload >> 16 & 0xff), UInt8(payload >> 8 & 0xff), UInt8(payload & 0xff), type, flags | (padding == nil ? 0 : 0x08)]
            bytes += [UInt8(stream >> 24), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)]
            let frameEnd = bytes.count + payload
            for offset in (bytes.count - 8)..<bytes.count { stalls.insert(offset) }   // inside the header
            if type != 0 { for offset in bytes.count..<frameEnd { stalls.insert(offset) } }   // inside another payload
            if type == 0 && payload > 0 { stalls.insert(bytes.count) }
            if let padding {
                bytes.append(UInt8(padding))
                if bytes.count < frameEnd { stalls.insert(bytes.count) }          // after the pad-length byte
                for offset in (frameEnd - padding)..<frameEnd { stalls.insert(offset) }   // the data's end to the padding's
            }
            bytes += (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(type)) }
            bytes += [UInt8](repeating: 0, count: padding ?? 0)
        }
        frame(type: 4, stream: 0, length: 18)              // SETTINGS
        frame(type: 1, flags: 4, stream: 1, length: 37)    // HEADERS
        for data in data { frame(type: 0, stream: 1, length: data.length, padding: data.padding) }
        frame(type: 8, stream: 1, length: 4)               // WINDOW_UPDATE
        frame(type: 1, flags: 5, stream: 3, length: 12)    // HEADERS, END_STREAM
        frame(type: 0, flags: 1, stream: 1, length: 3)     // the last DATA, END_STREAM
        return (bytes, stalls)
    }

    /// Padded DATA frames of every shape: no data, one byte, two, more; no padding, one byte, the most (255).
    static let paddedFrames: [DataFrame] = [0, 1, 2, 3, 700].flatMap { length in
        [0, 1, 2, 255].map { DataFrame(length: length, padding: $0) }
    } + [DataFrame(length: 5), DataFrame(length: 1, padding: 255)]

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

    /// Read sizes that end a read at every stall, the last with the rest.
    static func readsEndingAtStalls(_ stream: Stream) -> [Int] {
        var sizes: [Int] = []
        var last = 0
        for end in stream.stalls.sorted() {
            sizes.append(end - last)
            last = end
        }
        sizes.append(stream.bytes.count - last)
        return sizes
    }

    static func check(_ passed: [[UInt8]], against stream: Stream, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(passed.flatMap { $0 } == stream.bytes, "the bytes pass unchanged and in order", sourceLocation: sourceLocation)
        #expect(!passed.contains { $0.isEmpty }, sourceLocation: sourceLocation)
        var end = 0
        var endingAtStalls: [Int] = []   // one #expect, not one per read: there are thousands
        for read in passed {
            end += read.count
            if stream.stalls.contains(end) { endingAtStalls.append(end) }
        }
        #expect(endingAtStalls.isEmpty, "reads end at stalls, offsets \(endingAtStalls)", sourceLocation: sourceLocation)
    }

    @Test("reads that end right after DATA headers: each header goes on with the next read's first byte")
    func splitsAfterDataHeaders() throws {
        let stream = Self.stream()
        let sizes = Self.readsEndingAtStalls(stream)
        let passed = try Self.run(stream.bytes, reads: sizes)
        Self.check(passed, against: stream)
        // Nothing else is held: the reads passed on are as many as those fed, but for the reads of a header alone.
        #expect(passed.count <= sizes.count + stream.stalls.count)
    }

    @Test("padded DATA frames: no read ends after the header, after the pad length, or from the data's end to the padding's")
    func paddedFrames() throws {
        let stream = Self.stream(data: Self.paddedFrames)
        Self.check(try Self.run(stream.bytes, reads: Self.readsEndingAtStalls(stream)), against: stream)
        Self.check(try Self.run(stream.bytes, reads: Array(repeating: 1, count: stream.bytes.count)), against: stream)
        Self.check(try Self.run(stream.bytes, reads: Array(repeating: 3, count: stream.bytes.count)), against: stream)
        // What is held is at most a header, the pad length, the data's last byte and the padding: the reads passed on
        // never lag the reads fed by more than that.
        var fed = 0
        var passedTotal = 0
        let channel = EmbeddedChannel(handler: HTTP2FrameAligner(server: true))
        var lag = 0
        for size in Self.readsEndingAtStalls(stream) {
            try channel.writeInbound(ByteBuffer(bytes: stream.bytes[fed..<min(stream.bytes.count, fed + size)]))
            fed = min(stream.bytes.count, fed + size)
            while let buffer = try channel.readInbound(as: ByteBuffer.self) { passedTotal += buffer.readableBytes }
            lag = max(lag, fed - passedTotal)
        }
        #expect(passedTotal == stream.bytes.count)
        #expect(lag <= 9 + 1 + 1 + 255)
        _ = try channel.finish()
    }

    @Test("one byte per read, and headers split across reads")
    func oneBytePerRead() throws {
        let stream = Self.stream(data: [1, 2, 9, 300, 0, 70].map { DataFrame(length: $0) } + [DataFrame(length: 4, padding: 3)])
        Self.check(try Self.run(stream.bytes, reads: Array(repeating: 1, count: stream.bytes.count)), against: stream)
        Self.check(try Self.run(stream.bytes, reads: Array(repeating: 4, count: stream.bytes.count)), against: stream)
    }

    @Test("reads of random sizes", arguments: [false, true])
    func randomReads(padded: Bool) throws {
        let stream = padded ? Self.stream(data: Self.paddedFrames + Self.paddedFrames.reversed()) : Self.stream()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var sizes: [Int] = []
            var total = 0
            while total < stream.bytes.count {
                sizes.append(Int.random(in: 1...(padded ? 300 : 20_000), using: &generator))
                total += sizes.last!
            }
            Self.check(try Self.run(stream.bytes, reads: sizes), against: stream)
        }
    }

    @Test("a frame larger than the decoder accepts passes at its header: the decoder refuses it there")
    func oversizedFrame() throws {
        var bytes: [UInt8] = [0, 0x80, 0, 1, 4, 0, 0, 0, 1]   // HEADERS of 32 KiB
        bytes += [UInt8](repeating: 7, count: 100)
        let passed = try Self.run(bytes, reads: [9, 100], server: false)
        #expect(passed == [Array(bytes[..<9]), Array(bytes[9...])], "nothing is held for a frame over 16 KiB")
        let small: [UInt8] = [0, 0, 20, 1, 4, 0, 0, 0, 1] + [UInt8](repeating: 7, count: 20)   // HEADERS of 20 bytes
        #expect(try Self.run(small, reads: [9, 5, 15], server: false) == [small], "a frame of 16 KiB or less goes on whole")
    }

    @Test("client side: frames from the first byte (no preface)")
    func clientSide() throws {
        let stream = Self.stream()
        let preface = 24
        let frames: Stream = (Array(stream.bytes.dropFirst(preface)), Set(stream.stalls.map { $0 - preface }))
        Self.check(try Self.run(frames.bytes, reads: Self.readsEndingAtStalls(frames), server: false), against: frames)
    }

    @Test("a read that is whole frames passes as it is")
    func wholeFramesPassUnsplit() throws {
        let stream = Self.stream()
        let passed = try Self.run(stream.bytes, reads: [stream.bytes.count])
        #expect(passed.count == 1)
        Self.check(passed, against: stream)
    }

    /// The bytes of a client's stream of `count` padded DATA frames (100 bytes of data, 255 of padding) on one request,
    /// and read sizes that end every read at a stall, never at a frame's end: after the pad length, after the data, and
    /// after the next frame's header (with the padding before it).
    static func paddedUpload(count: Int) throws -> (bytes: [UInt8], reads: [Int]) {
        var bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        bytes += [0, 0, 0, 4, 0, 0, 0, 0, 0]                       // SETTINGS, empty
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var block = ByteBuffer()
        try encoder.encode(headers: [":method": "POST", ":scheme": "http", ":path": "/upload", ":authority": "chat.meridian"], to: &block)
        bytes += [0, 0, UInt8(block.readableBytes), 1, 4, 0, 0, 0, 1] + Array(block.readableBytesView)   // HEADERS, END_HEADERS
        var reads = [bytes.count + 9]
        for frame in 0..<count {
            bytes += [0, 1, 100, 0, 0x08, 0, 0, 0, 1, 255]            // DATA, PADDED, 356 bytes; the pad length
            bytes += [UInt8](repeating: 0x61, count: 100) + [UInt8](repeating: 0, count: 255)
            reads += [1, 100, frame == count - 1 ? 255 : 255 + 9]
        }
        return (bytes, reads)
    }

    /// Feeds the reads to swift-nio-http2's server handler (behind the aligner when `aligned`); returns the largest
    /// storage under the DATA frames it decoded, and the data bytes.
    static func decode(_ upload: (bytes: [UInt8], reads: [Int]), aligned: Bool) throws -> (storage: Int, data: Int) {
        let channel = EmbeddedChannel()
        if aligned { try channel.pipeline.syncOperations.addHandler(HTTP2FrameAligner(server: true)) }
        try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .server))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8443)).wait()
        var offset = 0
        var storage = 0
        var data = 0
        for size in upload.reads {
            try channel.writeInbound(ByteBuffer(bytes: upload.bytes[offset..<(offset + size)]))
            offset += size
            while let frame = try channel.readInbound(as: HTTP2Frame.self) {
                guard case .data(let payload) = frame.payload, case .byteBuffer(let bytes) = payload.data else { continue }
                storage = max(storage, bytes.storageCapacity)
                data += bytes.readableBytes
            }
            if offset == upload.reads[0] {
                // (The HEADERS frame, and the header of the first DATA frame.)
                // The request is open: the server grants the windows for the whole upload.
                for stream in [HTTP2StreamID(0), HTTP2StreamID(1)] {
                    try channel.writeOutbound(HTTP2Frame(streamID: stream, payload: .windowUpdate(windowSizeIncrement: 1 << 30)))
                }
            }
            while try channel.readOutbound(as: ByteBuffer.self) != nil {}   // SETTINGS, WINDOW_UPDATEs
        }
        _ = try? channel.finish()
        return (storage, data)
    }

    @Test("swift-nio-http2's decoder behind the aligner keeps a small buffer for padded DATA frames split at every stall")
    func decoderBufferStaysSmallWithPaddedFrames() throws {
        let upload = try Self.paddedUpload(count: 3000)   // about 1 MiB of frames
        let aligned = try Self.decode(upload, aligned: true)
        #expect(aligned.data == 3000 * 100, "every data byte is decoded, none of the padding")
        #expect(aligned.storage <= 16 * 1024, "the decoder's buffer grew to \(aligned.storage) bytes")
        // Without the aligner, the same reads grew it to 1 MiB (swift-nio-http2 1.x; measured when this was written).
        let unaligned = try Self.decode(upload, aligned: false)
        print("decoder buffer, padded DATA split at stalls: \(aligned.storage) bytes with the aligner, \(unaligned.storage) without")
    }
}
