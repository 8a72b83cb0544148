import NIOCore
import NIOHTTP2

/// The receive window of a tunnel connection, grown to its bandwidth-delay product (as gRPC's BDP estimator and
/// hyper's adaptive window, which Linkerd's proxy uses, do).
///
/// A stream carries at most one window per round trip: 1 MiB across a 100 ms link is 10 MB/s, whatever the link could
/// carry. So once 64 KiB of DATA has arrived since the last sample, the receiver measures: it sends a PING and counts
/// the DATA bytes that arrive until its acknowledgement. The bytes over the PING's round-trip time are the rate; the
/// rate over the *smallest* round-trip time seen is what the link holds in flight. When that reaches half the window,
/// the window was what limited the sender, and it becomes twice that (at least half as large again), up to `maximum`.
/// (Bytes, not frame sizes, start a sample: a DATA frame may be handed on in pieces.)
///
/// Half, not gRPC's two thirds: a window-limited sender gets 0.64-0.9 of a window across per round trip here (the
/// receiver opens the window again in steps of a quarter, and processing adds to the round trip), so at two thirds
/// windows stopped growing at a fraction of what the link could carry (`Benchmarks/tunnel/window.sh`).
///
/// The smallest round trip, not the last: a PING acknowledgement queued behind megabytes of DATA in the sender's socket
/// would otherwise make a loopback link look long, and grow windows that nothing needs (every grown window is what may
/// wait in the gateway for a destination that stopped reading).
///
/// Samples are taken at most every `minimumInterval`, and after one that did not grow the window the interval doubles
/// (up to 16 times): a steady transfer costs a PING every few seconds, well inside the 200 control frames per 30 s a
/// peer's `NIOHTTP2Handler` allows by default beside the health probes (tunnels allow 2,000, ``HTTP2Tuning``). A sample
/// whose acknowledgement has not come after `max(1 s, 8 × the shortest round trip)`, or whose PING could not be
/// written, is dropped, so that a lost PING does not end growth for the connection's life.
struct AdaptiveWindow {
    /// The opaque data of this estimator's PINGs (`MWINDOW1`); the health probes use random data.
    static let pingData = HTTP2PingData(withInteger: 0x4D57_494E_444F_5731)
    /// DATA bytes since the last sample that start the next one (and, during a sample, between checks for a lost PING).
    static let sampleBytesThreshold = 64 * 1024
    /// The largest HTTP/2 window.
    static let largestWindow = Int(Int32.max)

    /// The window every stream and the connection are kept near now.
    private(set) var target: Int
    let maximum: Int
    let minimumInterval: TimeAmount
    private var interval: TimeAmount
    private var sampleStarted: NIODeadline?
    private var sampleBytes = 0
    /// DATA bytes since the last sample ended, or (during a sample) since the last check for a lost PING.
    private var bytesSince = 0
    private var nextSample = NIODeadline.uptimeNanoseconds(0)
    /// The smallest round trip measured.
    private(set) var minimumRTT: TimeAmount?

    init(initial: Int, maximum: Int, minimumInterval: TimeAmount = .milliseconds(200)) {
        target = min(initial, Self.largestWindow)
        self.maximum = min(max(maximum, initial), Self.largestWindow)
        self.minimumInterval = minimumInterval
        interval = minimumInterval
    }

    /// `bytes` of DATA (flow-controlled) arrived; returns whether to send a PING now.
    mutating func received(_ bytes: Int, now: @autoclosure () -> NIODeadline) -> Bool {
        bytesSince += bytes
        if let started = sampleStarted {
            sampleBytes += bytes
            guard bytesSince >= Self.sampleBytesThreshold else { return false }
            bytesSince = 0
            let now = now()
            guard now - started > max(.seconds(1), (minimumRTT ?? .zero) * 8) else { return false }
            sampleStarted = nil   // the PING or its acknowledgement was lost: start over
            nextSample = now
            return false
        }
        guard target < maximum, bytesSince >= Self.sampleBytesThreshold else { return false }
        let now = now()
        guard now >= nextSample else { return false }
        sampleStarted = now
        sampleBytes = 0   // what arrives after the PING left
        bytesSince = 0
        return true
    }

    /// This estimator's PING was acknowledged; returns the new target when the window grows.
    mutating func acknowledged(now: NIODeadline) -> Int? {
        guard let started = sampleStarted else { return nil }
        sampleStarted = nil
        bytesSince = 0
        let rtt = max(now - started, .microseconds(1))
        let shortest = min(minimumRTT ?? rtt, rtt)
        minimumRTT = shortest
        // In flight on the link: the rate of this sample over the shortest round trip.
        let inFlight = Int(Double(sampleBytes) * Double(shortest.nanoseconds) / Double(rtt.nanoseconds))
        let grown = min(maximum, max(2 * inFlight, target / 2 * 3))
        guard inFlight * 2 >= target, grown > target else {
            nextSample = now + interval
            interval = min(interval * 2, minimumInterval * 16)
            return nil
        }
        interval = minimumInterval
        nextSample = now + interval
        target = grown
        return grown
    }

    /// The sample's PING could not be written: forget the sample.
    mutating func pingFailed() {
        sampleStarted = nil
        bytesSince = 0
    }
}
