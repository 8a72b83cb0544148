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

/// ``RememberedWindow``s by peer cluster, for the connections a gateway accepts, over all its event loops
/// (``DataPlaneContext/grownTunnelWindows``; each connection it makes keeps its own, in ``HTTP2Connection``). A peer may hold several connections to one event loop (it has more loops than this
/// gateway, or it reconnected before this side saw the old connection drop): a window never expires while one of
/// them is open, and its lifetime starts at the last close. Expired entries are dropped when looked up.
struct RememberedWindows {
    private struct Entry {
        var window: RememberedWindow?
        var open = 0
    }

    private var entries: [String: Entry] = [:]

    /// A connection with `cluster` opened (its peer is known): the window to start it at, if one is remembered and
    /// not expired.
    mutating func opened(_ cluster: String, at now: NIODeadline) -> Int? {
        var entry = entries[cluster] ?? Entry()
        if entry.open == 0, let remembered = entry.window, remembered.window(at: now) == nil { entry.window = nil }
        entry.open += 1
        entries[cluster] = entry
        return entry.window?.window
    }

    /// A connection with `cluster` grew its window to `window`. With several open, the largest is kept: one still
    /// growing from the configured window must not bring the window remembered from a grown one down (each
    /// connection's window only grows).
    mutating func grew(_ cluster: String, to window: Int, at now: NIODeadline) {
        var entry = entries[cluster] ?? Entry()
        entry.window = RememberedWindow(max(window, entry.window?.window ?? 0), at: now)
        entries[cluster] = entry
    }

    /// A connection with `cluster` that ``opened(_:at:)`` closed: what it grew to is kept for
    /// ``RememberedWindow/lifetime`` from now, once no other connection with the peer is open.
    mutating func closed(_ cluster: String, at now: NIODeadline) {
        guard var entry = entries[cluster] else { return }
        entry.open = max(entry.open - 1, 0)
        entry.window?.touch(at: now)
        if entry.open == 0 && entry.window == nil {
            entries[cluster] = nil
        } else {
            entries[cluster] = entry
        }
    }

    /// Peers with an open connection or a remembered window.
    var count: Int { entries.count }
}
