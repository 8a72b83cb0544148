import NIOCore
import Synchronization

/// The health of every destination this gateway sends to (peer clusters, and local endpoints as `local/HOST:PORT`),
/// shared by all event loops: one ``OutlierDetector`` per destination plus the latest probe RTT.
///
/// Each destination's record is a ``Cell`` with a lock of its own, made on first use and kept for the gateway's life
/// (a destination a new table drops is reset, not removed), so the data plane holds cells and reads and records
/// without a lookup: by name, each read hashed the destination's name under one lock shared by every loop (three
/// lookups per request, about 1,200 instructions).
public final class DestinationHealth: Sendable {
    /// A change worth a log line and a metric.
    public struct Event: Sendable, Hashable {
        public var destination: String
        public var transition: OutlierDetector.Transition
    }

    /// One destination's record.
    public final class Cell: Sendable {
        public let destination: String
        fileprivate let state = Mutex(State())
        /// Whether `state` has a detector (set under the lock; read without it). A destination without one is
        /// available and has nothing to record a success in, which the data plane then learns without taking the
        /// lock or reading the clock, on every request. (Read stale, it answers as if read just before the change.)
        fileprivate let tracked = Atomic(false)

        fileprivate init(destination: String) {
            self.destination = destination
        }
    }

    fileprivate struct State: Sendable {
        /// `nil` until the first failure or probe: a destination with no record is available.
        var detector: OutlierDetector?
        var rtt: TimeAmount?
        var reachable: Bool?
    }

    public let settings: OutlierDetector.Settings
    private let cells = Mutex([String: Cell]())
    private let onEvent: @Sendable (Event) -> Void

    public init(settings: OutlierDetector.Settings, onEvent: @escaping @Sendable (Event) -> Void = { _ in }) {
        self.settings = settings
        self.onEvent = onEvent
    }

    /// Key of a local endpoint.
    public static func localKey(_ endpoint: LocalEndpoint) -> String { endpoint.healthKey }
    static func localKey(address: String) -> String { "local/" + address }

    /// The record of `destination`, made on first use; the same cell for the gateway's life.
    public func cell(_ destination: String) -> Cell {
        cells.withLock { cells in
            if let cell = cells[destination] { return cell }
            let cell = Cell(destination: destination)
            cells[destination] = cell
            return cell
        }
    }

    private func existingCell(_ destination: String) -> Cell? {
        cells.withLock { $0[destination] }
    }

    // MARK: By cell (the data plane)

    // (`now` is read only when the destination has a detector: most have none, and these run on every request.)

    /// Weight factor in (0, 1], or `nil` while ejected.
    public func availability(_ cell: Cell, at now: @autoclosure () -> NIODeadline = .now()) -> Double? {
        guard cell.tracked.load(ordering: .relaxed) else { return 1 }
        // (Not `detector?.availability(at:) ?? 1`: the optional chain flattens the detector's `nil`, ejected, into the
        // same `nil` as no detector, and the `?? 1` made an ejected destination fully available.)
        return cell.state.withLock { state in
            guard let detector = state.detector else { return 1 }
            return detector.availability(at: now())
        }
    }

    /// Whether the destination is ejected now.
    public func isEjected(_ cell: Cell, at now: @autoclosure () -> NIODeadline = .now()) -> Bool {
        guard cell.tracked.load(ordering: .relaxed) else { return false }
        return cell.state.withLock { $0.detector?.isEjected(at: now()) ?? false }
    }

    public func recordSuccess(_ cell: Cell, at now: @autoclosure () -> NIODeadline = .now()) {
        guard cell.tracked.load(ordering: .relaxed) else { return }
        cell.state.withLock { state in
            guard state.detector != nil else { return }
            state.detector!.recordSuccess(at: now())
        }
    }

    public func recordFailure(_ cell: Cell, at now: NIODeadline = .now()) {
        let transition = cell.state.withLock { state in
            if state.detector == nil { Self.track(cell, &state, settings: settings) }
            return state.detector!.recordFailure(at: now)
        }
        if transition != .none { onEvent(Event(destination: cell.destination, transition: transition)) }
    }

    // MARK: By name (the control loops)

    /// Whether the destination is ejected now.
    public func isEjected(_ destination: String, at now: NIODeadline = .now()) -> Bool {
        guard let cell = existingCell(destination) else { return false }
        return isEjected(cell, at: now)
    }

    /// Records a probe of a peer, with its RTT when it succeeded.
    public func recordProbe(_ destination: String, rtt: TimeAmount?, at now: NIODeadline = .now()) {
        let cell = cell(destination)
        let transition = cell.state.withLock { state in
            state.reachable = rtt != nil
            if let rtt { state.rtt = rtt }
            if state.detector == nil { Self.track(cell, &state, settings: settings) }
            return state.detector!.recordProbe(success: rtt != nil, at: now)
        }
        if transition != .none { onEvent(Event(destination: destination, transition: transition)) }
    }

    /// The latest probe result of a peer: reachable and RTT.
    public func probe(_ destination: String) -> (reachable: Bool?, rtt: TimeAmount?) {
        guard let cell = existingCell(destination) else { return (nil, nil) }
        return cell.state.withLock { ($0.reachable, $0.rtt) }
    }

    /// Forgets what is known of destinations that are no longer in use (peers not in `destinations`; local endpoints
    /// are kept). Their cells stay, reset: the data plane may hold them.
    public func retain(only destinations: Set<String>) {
        let all = cells.withLock { Array($0.values) }
        for cell in all where !destinations.contains(cell.destination) {
            let local = cell.destination.hasPrefix("local/")
            cell.state.withLock { state in
                if !local {
                    state.detector = nil
                    cell.tracked.store(false, ordering: .relaxed)
                }
                state.rtt = nil
                state.reachable = nil
            }
        }
    }

    /// Gives `cell` its detector (under its lock).
    private static func track(_ cell: Cell, _ state: inout State, settings: OutlierDetector.Settings) {
        state.detector = OutlierDetector(settings: settings)
        cell.tracked.store(true, ordering: .relaxed)
    }
}
