#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reads SkyPilot's `vms.csv` catalog format
/// (`InstanceType, vCPUs, MemoryGiB, AcceleratorName, AcceleratorCount, GPUInfo, Region, AvailabilityZone, Price, SpotPrice`)
/// into per-GPU prices: instance price divided by accelerator count, one price per (region, GPU), the cheapest
/// instance winning when several carry the same GPU.
public struct SkyPilotCatalog: Sendable {
    public struct Row: Sendable, Hashable {
        public var line: Int
        public var instanceType: String
        public var acceleratorName: String
        public var acceleratorCount: Double
        public var region: String
        public var price: Double?
        public var spotPrice: Double?
    }

    public static let requiredColumns = ["InstanceType", "AcceleratorName", "AcceleratorCount", "Region", "Price", "SpotPrice"]

    public var rows: [Row]

    /// Parses CSV text (RFC 4180 quoting). Throws an ``APIError`` naming the line for a malformed file.
    public init(csv: String) throws(APIError) {
        let records = try Self.parseCSV(csv)
        guard let header = records.first else { throw .invalid("file", "the CSV file is empty; expected a header line") }
        var index: [String: Int] = [:]
        for (i, name) in header.enumerated() { index[name.trimmingWhitespace()] = i }
        for column in Self.requiredColumns where index[column] == nil {
            throw .invalid("file", "the CSV header lacks column '\(column)'; expected SkyPilot's vms.csv columns \(Self.requiredColumns.joined(separator: ", "))")
        }
        var rows: [Row] = []
        for (offset, record) in records.dropFirst().enumerated() {
            let line = offset + 2
            if record.count == 1 && record[0].isEmpty { continue }
            func column(_ name: String) -> String {
                let i = index[name]!
                return i < record.count ? record[i].trimmingWhitespace() : ""
            }
            let accelerator = column("AcceleratorName")
            if accelerator.isEmpty { continue }
            guard let count = Double(column("AcceleratorCount")), count > 0 else {
                throw .invalid("line \(line)", "line \(line): AcceleratorCount '\(column("AcceleratorCount"))' is not a positive number")
            }
            func price(_ name: String) throws(APIError) -> Double? {
                let text = column(name)
                if text.isEmpty { return nil }
                guard let value = Double(text), value >= 0, value.isFinite else {
                    throw .invalid("line \(line)", "line \(line): \(name) '\(text)' is not a price")
                }
                return value
            }
            rows.append(Row(line: line, instanceType: column("InstanceType"), acceleratorName: accelerator,
                            acceleratorCount: count, region: column("Region"), price: try price("Price"), spotPrice: try price("SpotPrice")))
        }
        self.rows = rows
    }

    /// Per-GPU prices keyed by (provider region code, GPU model), cheapest instance per key.
    public func perGPUPrices() -> [(providerRegion: String, gpuModel: String, onDemand: Double, spot: Double?)] {
        struct Key: Hashable { var region: String; var gpu: String }
        var best: [Key: (Double, Double?)] = [:]
        for row in rows {
            guard let price = row.price else { continue }
            let onDemand = price / row.acceleratorCount
            let spot = row.spotPrice.map { $0 / row.acceleratorCount }
            let key = Key(region: row.region, gpu: row.acceleratorName)
            if let existing = best[key] {
                let mergedSpot: Double? = switch (existing.1, spot) {
                case let (a?, b?): min(a, b)
                case let (a, b): a ?? b
                }
                best[key] = (min(existing.0, onDemand), mergedSpot)
            } else {
                best[key] = (onDemand, spot)
            }
        }
        return best.map { (key, value) in (key.region, key.gpu, value.0, value.1) }
            .sorted { ($0.providerRegion, $0.gpuModel) < ($1.providerRegion, $1.gpuModel) }
    }

    static func parseCSV(_ text: String) throws(APIError) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var inQuotes = false
        var line = 1
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return iterator.next()
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; pending = n }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else {
                switch c {
                case "\"": inQuotes = true
                case ",": record.append(field); field = ""
                case "\r": continue
                case "\n":
                    record.append(field); field = ""
                    records.append(record); record = []
                    line += 1
                default: field.unicodeScalars.append(c)
                }
            }
        }
        if inQuotes { throw .invalid("line \(line)", "line \(line): a quoted field is not closed") }
        if !field.isEmpty || !record.isEmpty { record.append(field); records.append(record) }
        return records
    }
}
