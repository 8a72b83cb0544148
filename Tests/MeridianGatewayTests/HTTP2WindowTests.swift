import NIOCore
import NIOEmbedded
import Testing

@testable import MeridianGateway

/// The configured HTTP/2 window (`--http2-window`) is what a gateway connection advertises.
@Suite("HTTP/2 window setting")
struct HTTP2WindowTests {
    /// The SETTINGS_INITIAL_WINDOW_SIZE a client connection configured with `window` sends first.
    static func advertisedWindow(_ window: Int) throws -> UInt32? {
        let channel = EmbeddedChannel()
        _ = try HTTP2Tuning.configure(channel, server: false, tunnel: false, window: window)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var written = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { written.writeBuffer(&part) }
        _ = try? channel.finish()
        // The client preface, then frames: find the SETTINGS frame and its INITIAL_WINDOW_SIZE (0x4) entry.
        guard written.readString(length: 24) == "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" else { return nil }
        while written.readableBytes >= 9 {
            let lengthAndType: UInt32 = written.readInteger()!
            _ = written.readInteger(as: UInt8.self)                // flags
            _ = written.readInteger(as: UInt32.self)               // stream
            guard var payload = written.readSlice(length: Int(lengthAndType >> 8)) else { return nil }
            guard lengthAndType & 0xff == 4 else { continue }
            while payload.readableBytes >= 6 {
                let id: UInt16 = payload.readInteger()!
                let value: UInt32 = payload.readInteger()!
                if id == 4 { return value }
            }
        }
        return nil
    }

    @Test("the initial stream window advertised is the configured one")
    func advertised() throws {
        #expect(try Self.advertisedWindow(HTTP2Tuning.window) == 1 << 20)
        #expect(try Self.advertisedWindow(4 << 20) == 4 << 20)
    }
}
