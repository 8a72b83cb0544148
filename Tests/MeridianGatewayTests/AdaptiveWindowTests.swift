import NIOCore
import NIOHTTP2
import Testing

@testable import MeridianGateway

/// ``AdaptiveWindow``: when a tunnel's window grows, and when it must not.
@Suite("Adaptive HTTP/2 window")
struct AdaptiveWindowTests {
    static let kib = 1024
    static let mib = 1024 * 1024
    static let start = NIODeadline.uptimeNanoseconds(10_000_000_000)

    /// Whether 64 KiB more of DATA at `now` start a sample.
    static func bulkStartsSample(_ window: inout AdaptiveWindow, at now: NIODeadline) -> Bool {
        window.received(AdaptiveWindow.sampleBytesThreshold, now: now)
    }

    /// One sample: 64 KiB start it at `at`, `bytes` arrive, the PING's acknowledgement comes `rtt` later.
    static func sample(_ window: inout AdaptiveWindow, at: NIODeadline, bytes: Int, rtt: TimeAmount) -> Int? {
        let started = bulkStartsSample(&window, at: at)
        #expect(started, "64 KiB start a sample")
        var left = bytes
        while left > 0 {
            let frame = min(left, 16 * kib)
            let again = window.received(frame, now: at)
            #expect(!again, "no second PING while one is out")
            left -= frame
        }
        return window.acknowledged(now: at + rtt)
    }

    @Test("a window that limits the sender doubles per round trip, up to the maximum; then no more PINGs")
    func growsToTheMaximum() {
        var window = AdaptiveWindow(initial: Self.mib, maximum: 16 * Self.mib)
        var now = Self.start
        var targets: [Int] = []
        while window.target < 16 * Self.mib {
            // A window-limited sender: one window per round trip.
            guard let grown = Self.sample(&window, at: now, bytes: window.target, rtt: .milliseconds(50)) else {
                Issue.record("a full window per round trip did not grow the window at \(window.target)")
                return
            }
            targets.append(grown)
            now = now + .milliseconds(50) + window.minimumInterval
        }
        #expect(targets == [2, 4, 8, 16].map { $0 * Self.mib })
        let atMaximum = Self.bulkStartsSample(&window, at: now + .seconds(10))
        #expect(!atMaximum, "at the maximum nothing is measured")
    }

    @Test("a round trip lengthened by queueing, not by the link, grows nothing: bytes are scaled to the shortest round trip")
    func queueingDoesNotGrow() {
        var window = AdaptiveWindow(initial: Self.mib, maximum: 16 * Self.mib)
        // Loopback: 100 µs, a few frames.
        #expect(Self.sample(&window, at: Self.start, bytes: 32 * Self.kib, rtt: .microseconds(100)) == nil)
        #expect(window.minimumRTT == .microseconds(100))
        // The acknowledgement then waits behind a window of DATA in the peer's socket: 1 MiB in 40 ms "round trip".
        let later = Self.start + .seconds(1)
        #expect(Self.sample(&window, at: later, bytes: Self.mib, rtt: .milliseconds(40)) == nil)
        #expect(window.target == Self.mib)
    }

    @Test("less than half the window per round trip: the window did not limit the sender, it stays; from half it grows by half at least")
    func belowHalfStays() {
        var window = AdaptiveWindow(initial: 4 * Self.mib, maximum: 16 * Self.mib)
        #expect(Self.sample(&window, at: Self.start, bytes: 2 * Self.mib - 64 * Self.kib, rtt: .milliseconds(50)) == nil)
        #expect(Self.sample(&window, at: Self.start + .seconds(1), bytes: 2 * Self.mib, rtt: .milliseconds(50)) == 6 * Self.mib)
        #expect(Self.sample(&window, at: Self.start + .seconds(2), bytes: 5 * Self.mib, rtt: .milliseconds(50)) == 10 * Self.mib)
    }

    @Test("a sample starts once 64 KiB of DATA have arrived, in frames of any size, and not before")
    func sixtyFourKiBStartASample() {
        var window = AdaptiveWindow(initial: Self.mib, maximum: 16 * Self.mib)
        // Frames cut where reads ended (swift-nio-http2 hands DATA on in pieces): 1 KiB each.
        let started = (1...64).filter { i in window.received(Self.kib, now: Self.start + .milliseconds(Int64(i))) }
        #expect(started == [64])
    }

    @Test("a sample whose acknowledgement never comes is dropped after a second, and a new one starts")
    func lostPingIsForgotten() {
        var window = AdaptiveWindow(initial: Self.mib, maximum: 16 * Self.mib)
        let first = Self.bulkStartsSample(&window, at: Self.start)
        #expect(first)
        // Data keeps coming; no acknowledgement. Within the second, nothing new starts.
        for ms in stride(from: 100, through: 1000, by: 100) {
            let started = Self.bulkStartsSample(&window, at: Self.start + .milliseconds(Int64(ms)))
            #expect(!started, "\(ms) ms")
        }
        let dropped = Self.bulkStartsSample(&window, at: Self.start + .milliseconds(1100))
        #expect(!dropped, "the lost sample is dropped here")
        let next = Self.bulkStartsSample(&window, at: Self.start + .milliseconds(1200))
        #expect(next, "and the next 64 KiB start a new one")
        // A PING that could not be written: the sample is forgotten at once.
        window.pingFailed()
        let afterFailure = Self.bulkStartsSample(&window, at: Self.start + .milliseconds(1201))
        #expect(afterFailure)
    }

    @Test("a window never passes 2^31 - 1, whatever --http2-window-max says")
    func largestWindow() {
        var window = AdaptiveWindow(initial: Self.mib, maximum: Int(UInt32.max))
        #expect(window.maximum == Int(Int32.max))
        var now = Self.start
        while window.target < window.maximum {
            guard let grown = Self.sample(&window, at: now, bytes: window.target, rtt: .milliseconds(50)) else { break }
            #expect(grown <= Int(Int32.max))
            now = now + .seconds(1)
        }
        #expect(window.target == Int(Int32.max))
    }

    @Test("after a sample that grew nothing, the next waits twice as long (up to 16 times the minimum interval)")
    func backsOff() {
        var window = AdaptiveWindow(initial: Self.mib, maximum: 16 * Self.mib, minimumInterval: .milliseconds(200))
        var acknowledged = Self.start + .microseconds(100)
        #expect(Self.sample(&window, at: Self.start, bytes: 0, rtt: .microseconds(100)) == nil)
        for wait in [200, 400, 800, 1600, 3200, 3200] as [Int64] {
            let early = Self.bulkStartsSample(&window, at: acknowledged + .milliseconds(wait - 1))
            #expect(!early, "a sample \(wait - 1) ms after the last")
            let next = acknowledged + .milliseconds(wait)
            #expect(Self.sample(&window, at: next, bytes: 0, rtt: .microseconds(100)) == nil)
            acknowledged = next + .microseconds(100)
        }
        // A sample that grows the window brings the interval back to the minimum.
        let growing = acknowledged + .milliseconds(3200)
        #expect(Self.sample(&window, at: growing, bytes: Self.mib, rtt: .microseconds(100)) == 2 * Self.mib)
        let next = Self.bulkStartsSample(&window, at: growing + .microseconds(100) + .milliseconds(200))
        #expect(next)
    }

    @Test("a maximum at or below the configured window turns growth off")
    func maximumAtInitialNeverSamples() {
        var window = AdaptiveWindow(initial: Self.mib, maximum: Self.mib)
        let sampled = Self.bulkStartsSample(&window, at: Self.start)
        #expect(!sampled)
        var smaller = AdaptiveWindow(initial: Self.mib, maximum: 64 * Self.kib)
        #expect(smaller.maximum == Self.mib)
        let smallerSampled = Self.bulkStartsSample(&smaller, at: Self.start)
        #expect(!smallerSampled)
    }

    @Test("a grown window is remembered per peer while a connection uses it and for ten minutes after the last closes, then forgotten")
    func rememberedWindowsExpire() {
        var windows = RememberedWindows()
        #expect(windows.opened("west", at: Self.start) == nil)
        windows.grew("west", to: 4 * Self.mib, at: Self.start)
        #expect(windows.opened("east", at: Self.start) == nil, "by peer")
        windows.closed("east", at: Self.start)

        // The connection stays up for an hour, then closes: the lifetime counts from the close.
        windows.closed("west", at: Self.start + .minutes(60))
        #expect(windows.opened("west", at: Self.start + .minutes(69)) == 4 * Self.mib)
        windows.closed("west", at: Self.start + .minutes(70))
        #expect(windows.opened("west", at: Self.start + .minutes(80)) == 4 * Self.mib, "ten minutes exactly")
        windows.closed("west", at: Self.start + .minutes(80))
        #expect(windows.opened("west", at: Self.start + .minutes(90) + .nanoseconds(1)) == nil)
        windows.closed("west", at: Self.start + .minutes(91))
        #expect(windows.count == 0, "an expired window is dropped, and a closed connection that grew nothing leaves nothing")

        // A later growth replaces the window and its time; a close never moves the time back.
        _ = windows.opened("west", at: Self.start + .minutes(100))
        windows.grew("west", to: Self.mib, at: Self.start + .minutes(100))
        windows.grew("west", to: 2 * Self.mib, at: Self.start + .minutes(105))
        windows.closed("west", at: Self.start + .minutes(101))
        #expect(windows.opened("west", at: Self.start + .minutes(115)) == 2 * Self.mib)
        windows.closed("west", at: Self.start + .minutes(115))
        #expect(windows.opened("west", at: Self.start + .minutes(125) + .nanoseconds(1)) == nil)
    }

    @Test("a window never expires while another connection from the peer is open (a peer with more event loops, or one that reconnected before the old connection was seen to drop)")
    func rememberedWindowKeptWhileAConnectionIsOpen() {
        var windows = RememberedWindows()
        _ = windows.opened("west", at: Self.start)
        windows.grew("west", to: 4 * Self.mib, at: Self.start)
        // Fifteen minutes later, with the first still open and grown no further, a second connection opens.
        #expect(windows.opened("west", at: Self.start + .minutes(15)) == 4 * Self.mib)
        // A third, which started from the configured window (another loop's view, say), grows a step: the
        // remembered window stays the largest.
        windows.grew("west", to: 2 * Self.mib, at: Self.start + .minutes(15))
        #expect(windows.opened("west", at: Self.start + .minutes(15)) == 4 * Self.mib)
        windows.closed("west", at: Self.start + .minutes(15))
        windows.closed("west", at: Self.start + .minutes(16))
        windows.closed("west", at: Self.start + .minutes(30))
        #expect(windows.opened("west", at: Self.start + .minutes(40)) == 4 * Self.mib, "ten minutes from the last close")
        windows.closed("west", at: Self.start + .minutes(40))
        #expect(windows.opened("west", at: Self.start + .minutes(51)) == nil)
    }
}
