import NIOHTTP2

/// HTTP/2 settings for the tunnel and h2c: large windows so one stream can fill a long fat pipe, generous
/// concurrency.
enum HTTP2Tuning {
    static let window = 4 * 1024 * 1024

    static var connection: NIOHTTP2Handler.ConnectionConfiguration {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 4096),
            HTTP2Setting(parameter: .initialWindowSize, value: window),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 64 * 1024),
            HTTP2Setting(parameter: .maxFrameSize, value: 1 << 14),
        ]
        configuration.targetWindowSize = 4 * window
        return configuration
    }

    static func serverConnection(maxHeaderBytes: Int) -> NIOHTTP2Handler.ConnectionConfiguration {
        var configuration = connection
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
