import NIOCore

/// Health of one destination (a peer cluster or a local endpoint) as this gateway sees it: passive outlier ejection
/// from request outcomes, active ejection from probes, and a gradual return afterwards.
///
/// - `consecutiveFailures` failures in a row (5xx answers, connect failures, resets) eject it for
///   `baseEjection`, doubled on each further ejection up to `maxEjection`;
/// - `probeFailuresToEject` failed probes in a row eject it at once, until a probe succeeds;
/// - after an ejection its weight ramps from 10 % to 100 % over `slowStart`.
///
/// A pure value; times are passed in.
public struct OutlierDetector: Sendable, Hashable {
    /// Thresholds.
    public struct Settings: Sendable, Hashable {
        /// Failures in a row that eject. Default 5.
        public var consecutiveFailures: Int = 5
        /// First ejection's length. Default 10 s.
        public var baseEjection: TimeAmount = .seconds(10)
        /// Longest ejection. Default 300 s.
        public var maxEjection: TimeAmount = .seconds(300)
        /// Failed probes in a row that eject. Default 3.
        public var probeFailuresToEject: Int = 3
        /// Ramp-up after an ejection. Default 10 s.
        public var slowStart: TimeAmount = .seconds(10)
        /// Healthy time after which the doubling starts over. Default 60 s.
        public var ejectionMemory: TimeAmount = .seconds(60)

        public init() {}
    }

    /// What a recorded event changed.
    public enum Transition: Sendable, Hashable {
        case none
        /// The destination was just ejected; the string says why.
        case ejected(String)
        /// A probe succeeded for a destination that probes had ejected.
        case restored
    }

    public let settings: Settings
    public private(set) var consecutiveFailures = 0
    public private(set) var consecutiveProbeFailures = 0
    /// Ejections so far (for the doubling).
    public private(set) var ejections = 0
    /// End of a passive ejection.
    public private(set) var ejectedUntil: NIODeadline?
    /// Ejected by probes: until a probe succeeds.
    public private(set) var ejectedByProbes = false
    /// When the destination last came back, for slow start.
    private var returnedAt: NIODeadline?

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Whether the destination is ejected at `now`.
    public func isEjected(at now: NIODeadline) -> Bool {
        if ejectedByProbes { return true }
        if let ejectedUntil, now < ejectedUntil { return true }
        return false
    }

    /// The destination's weight factor at `now`: `nil` while ejected, else in (0, 1] (below 1 during slow start).
    public func availability(at now: NIODeadline) -> Double? {
        if isEjected(at: now) { return nil }
        let start = max(returnedAt ?? .distantPast, ejectedUntil ?? .distantPast)
        guard start != .distantPast, settings.slowStart.nanoseconds > 0 else { return 1 }
        let elapsed = Double((now - start).nanoseconds) / Double(settings.slowStart.nanoseconds)
        if elapsed >= 1 { return 1 }
        return max(0.1, elapsed)
    }

    /// A request succeeded.
    public mutating func recordSuccess(at now: NIODeadline) {
        consecutiveFailures = 0
        if ejections > 0, let end = ejectedUntil ?? returnedAt, now - end > settings.ejectionMemory {
            ejections = 0
        }
    }

    /// A request failed (5xx, connect failure, reset). Failures while ejected are not counted.
    public mutating func recordFailure(at now: NIODeadline) -> Transition {
        guard !isEjected(at: now) else { return .none }
        consecutiveFailures += 1
        guard consecutiveFailures >= settings.consecutiveFailures else { return .none }
        consecutiveFailures = 0
        ejections += 1
        let factor = Int64(1) << Int64(min(ejections - 1, 20))
        let length = TimeAmount.nanoseconds(min(settings.baseEjection.nanoseconds * factor, settings.maxEjection.nanoseconds))
        ejectedUntil = now + length
        return .ejected("\(settings.consecutiveFailures) consecutive failures; ejected for \(Double(length.nanoseconds) / 1e9) s")
    }

    /// A probe finished.
    public mutating func recordProbe(success: Bool, at now: NIODeadline) -> Transition {
        if success {
            consecutiveProbeFailures = 0
            if ejectedByProbes {
                ejectedByProbes = false
                returnedAt = now
                return .restored
            }
            return .none
        }
        consecutiveProbeFailures += 1
        if !ejectedByProbes && consecutiveProbeFailures >= settings.probeFailuresToEject {
            ejectedByProbes = true
            return .ejected("\(consecutiveProbeFailures) failed probes")
        }
        return .none
    }
}
