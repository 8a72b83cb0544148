import Synchronization

/// One label set's request latency histogram, recorded without a lock: a request adds one to the bucket its latency
/// falls in and its latency to the sum, two relaxed atomic additions. The counts are made cumulative, and the total
/// counted, only when the histogram is written out.
///
/// (swift-prometheus's `Histogram` takes a lock and compares the latency with all 17 bounds, adding one to each bound
/// it is under: about 850 instructions on each request in each gateway, against about 60 here.)
final class LatencyHistogram: @unchecked Sendable {
    // @unchecked: `counts` is set once, and what it points to is only read and changed through `Atomic`.

    /// The bounds of the buckets (`le`), in nanoseconds, ascending: 1 ms to 10 minutes (inference streams are long).
    static let bounds: [Int64] = [
        1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000,
    ].map { $0 * 1_000_000 }

    /// `source="…",destination="…",service="…"`, escaped.
    let labels: String
    /// A count per bucket (not cumulative), the last for latencies above every bound.
    private let counts: UnsafeMutablePointer<Atomic<Int>>
    /// The latencies' sum in microseconds: in nanoseconds, a busy gateway's long streams would overflow it in days.
    private let sumMicroseconds = Atomic<Int>(0)

    init(labels: [(String, String)]) {
        self.labels = labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",")
        counts = .allocate(capacity: Self.bounds.count + 1)
        for index in 0...Self.bounds.count { (counts + index).initialize(to: Atomic(0)) }
    }

    deinit {
        counts.deinitialize(count: Self.bounds.count + 1)
        counts.deallocate()
    }

    func record(nanoseconds: Int64) {
        let bounds = Self.bounds
        var bucket = 0
        while bucket < bounds.count, bounds[bucket] < nanoseconds { bucket += 1 }
        counts[bucket].wrappingAdd(1, ordering: .relaxed)
        sumMicroseconds.wrappingAdd(Int((max(0, nanoseconds) + 500) / 1_000), ordering: .relaxed)
    }

    /// The histogram's lines in Prometheus's text format, for the metric `name`: a cumulative count per bound and
    /// `+Inf`, then `_sum` (seconds) and `_count`.
    func write(name: String, into text: inout String) {
        var cumulative = 0
        for (index, bound) in Self.bounds.enumerated() {
            cumulative += counts[index].load(ordering: .relaxed)
            text += "\(name)_bucket{\(labels),le=\"\(Double(bound) / 1e9)\"} \(cumulative)\n"
        }
        cumulative += counts[Self.bounds.count].load(ordering: .relaxed)
        text += "\(name)_bucket{\(labels),le=\"+Inf\"} \(cumulative)\n"
        text += "\(name)_sum{\(labels)} \(Double(sumMicroseconds.load(ordering: .relaxed)) / 1e6)\n"
        text += "\(name)_count{\(labels)} \(cumulative)\n"
    }

    /// A label value as Prometheus's text format writes it: backslash, double quote and line feed escaped.
    static func escaped(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
