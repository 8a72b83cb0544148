import NIOCore
import Synchronization

/// The health of every destination this gateway sends to (peer clusters, and local endpoints as `local/HOST:PORT`),
/// shared by all event loops: one ``OutlierDetector`` per destination plus the latest probe RTT.
public final class DestinationHealth: Sendable {
    /// A change worth a log line and a metric.
    public struct Event: Sendable, Hashable {
        public var destination: String
        public var transition: OutlierDetector.Transition
    }

    private struct State: Sendable {
        var detectors: [String: OutlierDetector] = [:]
        var rtt: [String: TimeAmount] = [:]
        var reachable: [String: Bool] = [:]
    }

    public let settings: OutlierDetector.Settings
    private let state = Mutex(State())
    private let onEvent: @Sendable (Event) -> Void

    public init(settings: OutlierDetector.Settings, onEvent: @escaping @Sendable (Event) -> Void = { _ in }) {
        self.settings = settings
        self.onEvent = onEvent
    }

    /// Key of a local endpoint.
    public static func localKey(_ endpoint: LocalEndpoint) -> String { endpoint.healthKey }
    static func localKey(address: String) -> String { "local/" + address }

    /// Weight factor in (0, 1], or `nil` while ejected.
    public func availability(_ destination: String, at now: NIODeadline = .now()) -> Double? {
        state.withLock { $0.detectors[destination]?.availability(at: now) ?? 1 }
    }

    /// Whether the destination is ejected now.
    public func isEjected(_ destination: String, at now: NIODeadline = .now()) -> Bool {
        state.withLock { $0.detectors[destination]?.isEjected(at: now) ?? false }
    }

    public func recordSuccess(_ destination: String, at now: NIODeadline = .now()) {
        state.withLock { state in
            guard state.detectors[destination] != nil else { return }
            state.detectors[destination]!.recordSuccess(at: now)
        }
    }

    public func recordFailure(_ destination: String, at now: NIODeadline = .now()) {
        let transition = state.withLock { state in
            state.detectors[destination, default: OutlierDetector(settings: settings)].recordFailure(at: now)
        }
        if transition != .none { onEvent(Event(destination: destination, transition: transition)) }
    }

    /// Records a probe of a peer, with its RTT when it succeeded.
    public func recordProbe(_ destination: String, rtt: TimeAmount?, at now: NIODeadline = .now()) {
        let transition = state.withLock { state in
            state.reachable[destination] = rtt != nil
            if let rtt { state.rtt[destination] = rtt }
            return state.detectors[destination, default: OutlierDetector(settings: settings)].recordProbe(success: rtt != nil, at: now)
        }
        if transition != .none { onEvent(Event(destination: destination, transition: transition)) }
    }

    /// The latest probe result of a peer: reachable and RTT.
    public func probe(_ destination: String) -> (reachable: Bool?, rtt: TimeAmount?) {
        state.withLock { ($0.reachable[destination], $0.rtt[destination]) }
    }

    /// Forgets destinations that are no longer in use.
    public func retain(only destinations: Set<String>) {
        state.withLock { state in
            state.detectors = state.detectors.filter { destinations.contains($0.key) || $0.key.hasPrefix("local/") }
            state.rtt = state.rtt.filter { destinations.contains($0.key) }
            state.reachable = state.reachable.filter { destinations.contains($0.key) }
        }
    }
}
