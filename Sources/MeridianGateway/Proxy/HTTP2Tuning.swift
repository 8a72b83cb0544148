import NIOHTTP2

/// HTTP/2 settings for the tunnel and h2c: 1 MiB stream windows (4 MiB per connection), generous concurrency.
///
/// The stream window bounds what waits in a stream whose destination stopped reading. Larger windows let one stream
/// fill a longer, fatter pipe, but the DATA frames that wait are slices of swift-nio-http2's parser buffer, which is
/// copied whole on every append while a slice lives: the memory they hold grows with the square of the window
/// (4 MiB windows held 88-290 MiB for one paused upload, 1 MiB windows 16-25 MiB; docs/gateway.md).
///
/// Header-block validation (field names and values, pseudo-headers) is off on the tunnel, in both directions: its peer
/// is a gateway whose SPIFFE identity was verified, and every header it relays was validated where it entered the
/// mesh (the local listener's HTTP/1.1 parser or h2c codec, or the destination's HTTP/1.1 parser or h2c codec).
/// It cost about 4.5 % of each gateway's CPU. Local h2c clients and endpoints keep it.
enum HTTP2Tuning {
    static let window = 1024 * 1024

    /// An outbound connection: to a peer's tunnel (`tunnel`, validation off) or to a local h2c endpoint.
    static func connection(tunnel: Bool) -> NIOHTTP2Handler.ConnectionConfiguration {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        if tunnel { configuration.headerBlockValidation = .disabled }
        configuration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 4096),
            HTTP2Setting(parameter: .initialWindowSize, value: window),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 64 * 1024),
            HTTP2Setting(parameter: .maxFrameSize, value: 1 << 14),
        ]
        configuration.targetWindowSize = 4 * window
        return configuration
    }

    /// An accepted connection: on the tunnel listener (`tunnel`, validation off) or from a local h2c client.
    static func serverConnection(maxHeaderBytes: Int, tunnel: Bool) -> NIOHTTP2Handler.ConnectionConfiguration {
        var configuration = connection(tunnel: tunnel)
        configuration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 4096),
            HTTP2Setting(parameter: .initialWindowSize, value: window),
            HTTP2Setting(parameter: .maxHeaderListSize, value: maxHeaderBytes),
        ]
        return configuration
    }

    static var stream: NIOHTTP2Handler.StreamConfiguration {
        var configuration = NIOHTTP2Handler.StreamConfiguration()
        configuration.targetWindowSize = window
        configuration.outboundBufferSizeHighWatermark = 256 * 1024
        configuration.outboundBufferSizeLowWatermark = 64 * 1024
        return configuration
    }
}
