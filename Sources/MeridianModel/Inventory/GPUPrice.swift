#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The price of one GPU-hour of a model, in a region or for one cluster (a cluster price wins over its region's).
public struct GPUPrice: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["region", "cluster", "gpuModel", "onDemandPerHour", "spotPerHour", "currency", "effectiveFrom", "source"]
    /// Region id; exactly one of `region` and `cluster` is set.
    public var region: String?
    public var cluster: String?
    public var gpuModel: String
    public var onDemandPerHour: Double
    public var spotPerHour: Double?
    /// ISO 4217, default `USD`.
    public var currency: String
    public var effectiveFrom: Date
    /// Where the figure came from (`skypilot-catalog`, `contract-2026`, ...).
    public var source: String

    public init(region: String? = nil, cluster: String? = nil, gpuModel: String, onDemandPerHour: Double,
                spotPerHour: Double? = nil, currency: String = "USD", effectiveFrom: Date, source: String) {
        self.region = region
        self.cluster = cluster
        self.gpuModel = gpuModel
        self.onDemandPerHour = onDemandPerHour
        self.spotPerHour = spotPerHour
        self.currency = currency
        self.effectiveFrom = effectiveFrom
        self.source = source
    }

    public func validate(field prefix: String = "") throws(APIError) {
        switch (region, cluster) {
        case (nil, nil): throw .invalid(prefix + "region", "give either 'region' or 'cluster'")
        case (.some, .some): throw .invalid(prefix + "cluster", "give either 'region' or 'cluster', not both")
        default: break
        }
        if let cluster { try Validate.dnsLabel(cluster, field: prefix + "cluster") }
        guard !gpuModel.isEmpty, gpuModel.utf8.count <= 64 else { throw .invalid(prefix + "gpuModel", "'gpuModel' must be 1-64 characters, for example 'H100'") }
        guard onDemandPerHour.isFinite, onDemandPerHour >= 0 else { throw .invalid(prefix + "onDemandPerHour", "'onDemandPerHour' must be zero or more") }
        if let spotPerHour, !(spotPerHour.isFinite && spotPerHour >= 0) { throw .invalid(prefix + "spotPerHour", "'spotPerHour' must be zero or more") }
        guard currency.utf8.count == 3, currency.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5a }) else {
            throw .invalid(prefix + "currency", "'currency' must be an ISO 4217 code such as 'USD'")
        }
        guard !source.isEmpty else { throw .missing(prefix + "source") }
    }
}

/// `POST /v1/prices` body: a batch, applied all or nothing.
public struct PriceBatch: Codable, Sendable, Hashable {
    public static let fields: Set<String> = ["prices"]
    public var prices: [GPUPrice]
    public init(prices: [GPUPrice]) { self.prices = prices }
}

/// Result of an import.
public struct PriceImportResult: Codable, Sendable, Hashable {
    public var imported: Int
    public var skipped: [String]
    public init(imported: Int, skipped: [String]) {
        self.imported = imported
        self.skipped = skipped
    }
}
