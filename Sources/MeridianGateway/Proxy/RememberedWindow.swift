import NIOCore

/// The window a tunnel connection with one peer grew to (``AdaptiveWindow``), kept so that the next connection with
/// that peer starts there instead of growing again from the configured window, a few round trips of a cross-region
/// link.
///
/// It is forgotten once no connection with the peer has used it for ``lifetime``: a peer gone that long may come back
/// over another path (another region's replica, a new route), whose bandwidth-delay product the old window says
/// nothing about. A connection uses it while it is open: ``touch(at:)`` when one closes starts the lifetime over.
struct RememberedWindow: Equatable {
    /// How long a window stays remembered after the last connection that used it.
    static let lifetime = TimeAmount.minutes(10)

    private(set) var window: Int
    private var lastUsed: NIODeadline

    init(_ window: Int, at now: NIODeadline) {
        self.window = window
        lastUsed = now
    }

    /// The window, if a connection used it within ``lifetime`` of `now`.
    func window(at now: NIODeadline) -> Int? {
        now - lastUsed <= Self.lifetime ? window : nil
    }

    /// A connection used the window until `now` (it closed, or it grew).
    mutating func touch(at now: NIODeadline) {
        lastUsed = max(lastUsed, now)
    }
}

/// ``RememberedWindow``s by peer cluster, for the connections a gateway accepts (each connection it makes keeps its
/// own, in ``HTTP2Connection``). Expired entries are dropped when looked up.
struct RememberedWindows {
    private var windows: [String: RememberedWindow] = [:]

    /// The window to start a connection with `cluster` at, if one is remembered and not expired.
    mutating func window(for cluster: String, at now: NIODeadline) -> Int? {
        guard let remembered = windows[cluster] else { return nil }
        guard let window = remembered.window(at: now) else {
            windows[cluster] = nil
            return nil
        }
        return window
    }

    /// A connection with `cluster` grew its window to `window`.
    mutating func grew(_ cluster: String, to window: Int, at now: NIODeadline) {
        windows[cluster] = RememberedWindow(window, at: now)
    }

    /// A connection with `cluster` closed: what it grew to is kept for ``RememberedWindow/lifetime`` from now.
    mutating func closed(_ cluster: String, at now: NIODeadline) {
        windows[cluster]?.touch(at: now)
    }

    var count: Int { windows.count }
}
