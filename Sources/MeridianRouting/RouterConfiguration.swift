import MeridianModel

/// Tunables of the ``Router``. The defaults are the ones `docs/routing.md` documents and its worked examples use.
public struct RouterConfiguration: Sendable, Hashable {
    /// Upper RTT bounds, in milliseconds, of the bands `metro`, `regional`, `continental` and `intercontinental`;
    /// anything slower is `far`. The source cluster itself is always the band `local`.
    /// Default `[5, 30, 80, 180]`.
    public var bandLimitsMs: [Double]
    /// Headroom below which a candidate is not scored lower (keeps weights positive). Default 0.05.
    public var minimumHeadroom: Double
    /// Price floor, per GPU-hour, used when scoring (a free cluster would otherwise divide by zero). Default 0.01.
    public var minimumPrice: Double
    /// RTT floor, in milliseconds, used when scoring. Default 1.
    public var minimumRTTMs: Double
    /// Request timeout when a service's preferences name none, seconds. Default 300.
    public var defaultTimeoutSeconds: Double

    public init(bandLimitsMs: [Double] = [5, 30, 80, 180], minimumHeadroom: Double = 0.05, minimumPrice: Double = 0.01,
                minimumRTTMs: Double = 1, defaultTimeoutSeconds: Double = 300) {
        self.bandLimitsMs = bandLimitsMs.sorted()
        self.minimumHeadroom = minimumHeadroom
        self.minimumPrice = minimumPrice
        self.minimumRTTMs = minimumRTTMs
        self.defaultTimeoutSeconds = defaultTimeoutSeconds
    }

    /// The defaults.
    public static let `default` = RouterConfiguration()

    /// Names of the bands: `local`, then one per limit, then `far`.
    public var bandNames: [String] {
        let names = ["metro", "regional", "continental", "intercontinental"]
        let middle = bandLimitsMs.indices.map { $0 < names.count ? names[$0] : "band-\($0 + 1)" }
        return ["local"] + middle + ["far"]
    }

    /// Band of a non-local candidate: 1 for the first limit, ..., `bandLimitsMs.count + 1` beyond the last.
    func band(rttMs: Double) -> Int {
        for (offset, limit) in bandLimitsMs.enumerated() where rttMs <= limit { return offset + 1 }
        return bandLimitsMs.count + 1
    }

    /// The RTT group of a band under an objective: bands in one group share a priority level.
    /// - latency: every band is its own group (the local cluster alone first);
    /// - balanced: local, metro and regional together, then continental, then the rest;
    /// - cost: one group.
    func group(band: Int, objective: RoutingObjective) -> Int {
        switch objective {
        case .latency: return band
        case .cost: return 0
        case .balanced:
            if band <= 2 { return 0 }
            if band == 3 { return 1 }
            return 2
        }
    }
}
