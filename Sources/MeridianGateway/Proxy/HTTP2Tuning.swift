import NIOCore
import NIOHTTP2

/// The HTTP/2 connections of the gateway (tunnel and h2c, both directions): settings, and the pipeline
/// `NIOHTTP2Handler` -> ``InboundDataCompactor`` -> `HTTP2StreamMultiplexer`.
///
/// Windows are 1 MiB per stream and per connection (the multiplexer's one target serves both). The stream window
/// bounds what waits in a stream whose destination stopped reading; the compactor makes each waiting frame hold only
/// its own bytes (as slices of the parser's buffer, frames held 88-290 MiB with 4 MiB windows; docs/gateway.md). The
/// compactor needs the multiplexer as a handler of its own: swift-nio-http2's inline multiplexer, inside
/// `NIOHTTP2Handler`, leaves no place between parsing and the streams.
///
/// Header-block validation (field names and values, pseudo-headers) is off on the tunnel, in both directions: its peer
/// is a gateway whose SPIFFE identity was verified, and every header it relays was validated where it entered the
/// mesh (the local listener's HTTP/1.1 parser or h2c codec, or the destination's HTTP/1.1 parser or h2c codec).
/// It cost about 4.5 % of each gateway's CPU. Local h2c clients and endpoints keep it.
enum HTTP2Tuning {
    static let window = 1024 * 1024

    /// Adds the connection's HTTP/2 handlers to `channel` (after TLS, if any) and returns its stream multiplexer.
    /// `server` settings advertise `maxHeaderBytes`; `tunnel` turns header-block validation off.
    static func configure(_ channel: any Channel, server: Bool, tunnel: Bool, maxHeaderBytes: Int = 64 * 1024,
                          inboundStreamInitializer: @escaping NIOChannelInitializer) throws -> HTTP2StreamMultiplexer {
        let mode: NIOHTTP2Handler.ParserMode = server ? .server : .client
        var settings: HTTP2Settings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 4096),
            HTTP2Setting(parameter: .initialWindowSize, value: window),
            HTTP2Setting(parameter: .maxHeaderListSize, value: maxHeaderBytes),
        ]
        if !server { settings.append(HTTP2Setting(parameter: .maxFrameSize, value: 1 << 14)) }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOHTTP2Handler(mode: mode, initialSettings: settings, headerBlockValidation: tunnel ? .disabled : .enabled))
        try sync.addHandler(InboundDataCompactor())
        let multiplexer = HTTP2StreamMultiplexer(
            mode: mode, channel: channel, targetWindowSize: window,
            outboundBufferSizeHighWatermark: 256 * 1024, outboundBufferSizeLowWatermark: 64 * 1024,
            inboundStreamInitializer: inboundStreamInitializer)
        try sync.addHandler(multiplexer)
        return multiplexer
    }
}
