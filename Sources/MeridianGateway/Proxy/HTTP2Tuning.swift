import NIOCore
import NIOHTTP2

/// The HTTP/2 connections of the gateway (tunnel and h2c, both directions): settings, and the pipeline
/// ``TunnelHTTP2Handler`` -> ``HTTP2StreamMux``. On the tunnel both ends are verified gateways; on a connection to a
/// local h2c client or endpoint, whose HTTP/2 may be anyone's, the handler has `NIOHTTP2Handler`'s limits
/// (``TunnelHTTP2Handler/PeerLimits``).
///
/// Windows are 1 MiB per stream and per connection by default (`--http2-window`). The stream window bounds what waits
/// in a stream whose destination stopped reading; the mux copies each DATA payload as it arrives, so that each waiting
/// frame holds only its own bytes (as slices of the parser's buffer, frames held 88-290 MiB with 4 MiB windows;
/// docs/gateway.md).
///
/// Header-block validation (field names and values, pseudo-headers) is off on the tunnel, in both directions: its peer
/// is a gateway whose SPIFFE identity was verified, and every header it relays was validated where it entered the
/// mesh (the local listener's HTTP/1.1 parser or h2c codec, or the destination's HTTP/1.1 parser or h2c codec).
/// It cost about 4.5 % of each gateway's CPU. On connections to local h2c clients and endpoints, ``HTTP2MuxStream``'s
/// owners validate each block they receive (``HeaderFields/validate(as:)``: NIO's checks, on received blocks only, in
/// one pass).
enum HTTP2Tuning {
    /// The default window (`GatewayConfiguration.http2Window`).
    static let window = 1024 * 1024
    /// The largest frame either end accepts (the HTTP/2 default, and what a client end advertises).
    static let maxFrameSize = 1 << 14

    /// Adds the connection's HTTP/2 handlers to `channel` (after TLS, if any: ``TunnelHTTP2Handler``, then
    /// ``HTTP2StreamMux``) and returns its stream mux. `server` settings advertise `maxHeaderBytes`; `tunnel` turns
    /// header-block validation and the limits for unverified peers off; on a tunnel, windows grow from `window` up to
    /// `maximumWindow` with the link's bandwidth-delay product (``AdaptiveWindow``); `inboundStream` gives each stream
    /// the peer opens its owner (server side).
    static func configure(_ channel: any Channel, server: Bool, tunnel: Bool, maxHeaderBytes: Int = 64 * 1024, window: Int = window,
                          maximumWindow: Int? = nil,
                          inboundStream: HTTP2StreamMux.InboundStreamInitializer? = nil) throws -> HTTP2StreamMux {
        let mux = HTTP2StreamMux(server: server, targetWindow: window, maximumWindow: tunnel ? maximumWindow : nil, validatesHeaderBlocks: !tunnel,
                                 inboundStreamInitializer: inboundStream)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(TunnelHTTP2Handler(server: server, settings: settings(server: server, window: window, maxHeaderBytes: maxHeaderBytes),
                                               maxHeaderBytes: maxHeaderBytes, limits: tunnel ? nil : .nio, mux: mux))
        try sync.addHandler(mux)
        return mux
    }

    /// The SETTINGS an end of `server`'s kind sends first: up to 4,096 concurrent streams, `window`, `maxHeaderBytes`;
    /// a client also says the largest frame it takes (the default) and that it takes no push.
    static func settings(server: Bool, window: Int, maxHeaderBytes: Int) -> [HTTP2Setting] {
        var settings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 4096),
            HTTP2Setting(parameter: .initialWindowSize, value: window),
            HTTP2Setting(parameter: .maxHeaderListSize, value: maxHeaderBytes),
        ]
        if !server {
            settings.append(HTTP2Setting(parameter: .maxFrameSize, value: maxFrameSize))
            settings.append(HTTP2Setting(parameter: .enablePush, value: 0))
        }
        return settings
    }
}
