import Foundation
import Prometheus
import Testing

@testable import MeridianGateway

@Suite("Latency histograms")
struct LatencyHistogramTests {
    /// The value of the line that starts with `prefix` in `text`.
    private func value(_ text: String, _ prefix: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(prefix + " ") }.map { String($0.dropFirst(prefix.count + 1)) }
    }

    @Test("a latency counts in the first bucket whose bound it does not exceed; the lines are cumulative, with the sum and count")
    func buckets() throws {
        let histogram = LatencyHistogram(labels: [("source", "east"), ("service", "chat")])
        let ms: Int64 = 1_000_000
        for latency in [0, ms, ms + 1, 3 * ms, 600_000 * ms, 600_000 * ms + 1, 1_000_000 * ms] { histogram.record(nanoseconds: latency) }
        var text = ""
        histogram.write(name: "m", into: &text)
        #expect(value(text, #"m_bucket{source="east",service="chat",le="0.001"}"#) == "2")   // 0 and exactly 1 ms
        #expect(value(text, #"m_bucket{source="east",service="chat",le="0.002"}"#) == "3")
        #expect(value(text, #"m_bucket{source="east",service="chat",le="0.005"}"#) == "4")
        #expect(value(text, #"m_bucket{source="east",service="chat",le="300.0"}"#) == "4")
        #expect(value(text, #"m_bucket{source="east",service="chat",le="600.0"}"#) == "5")
        #expect(value(text, #"m_bucket{source="east",service="chat",le="+Inf"}"#) == "7")
        #expect(value(text, #"m_count{source="east",service="chat"}"#) == "7")
        let sum = try #require(value(text, #"m_sum{source="east",service="chat"}"#).flatMap(Double.init))
        #expect(abs(sum - (0.001 + 0.001 + 0.003 + 600 + 600 + 1000)) < 1e-5)
        // 17 bounds and +Inf, then the sum and the count.
        #expect(text.split(separator: "\n").count == 20)
    }

    @Test("label values are escaped as Prometheus's text format needs")
    func escaping() {
        let histogram = LatencyHistogram(labels: [("service", #"a"b\c"# + "\nd")])
        #expect(histogram.labels == #"service="a\"b\\c\nd""#)
        #expect(LatencyHistogram.escaped("plain") == "plain")
    }

    @Test("records from several threads at once are all counted")
    func concurrent() async {
        let histogram = LatencyHistogram(labels: [("service", "chat")])
        await withTaskGroup(of: Void.self) { group in
            for thread in 0..<4 {
                group.addTask {
                    for index in 0..<10_000 { histogram.record(nanoseconds: Int64((thread * 10_000 + index) % 7) * 1_000_000) }
                }
            }
        }
        var text = ""
        histogram.write(name: "m", into: &text)
        #expect(value(text, #"m_count{service="chat"}"#) == "40000")
    }

    @Test("the exposition has the registry's metrics, then one histogram family; a label set's histogram is shared by every caller")
    func exposition() throws {
        let metrics = GatewayMetrics(registry: PrometheusCollectorRegistry())
        metrics.tableVersion.set(to: 7.0)
        let first = metrics.requestDuration(source: "east", destination: "west", service: "chat")
        #expect(metrics.requestDuration(source: "east", destination: "west", service: "chat") === first)
        first.record(nanoseconds: 2_000_000)
        metrics.requestDuration(source: "east", destination: "west", service: "chat").record(nanoseconds: 2_000_000)
        metrics.requestDuration(source: "east", destination: "south", service: "chat").record(nanoseconds: 2_000_000)
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains("meridian_gateway_table_version 7.0\n"))
        #expect(text.components(separatedBy: "# TYPE meridian_gateway_request_duration_seconds histogram\n").count == 2)
        #expect(value(text, #"meridian_gateway_request_duration_seconds_count{source="east",destination="west",service="chat"}"#) == "2")
        #expect(value(text, #"meridian_gateway_request_duration_seconds_bucket{source="east",destination="south",service="chat",le="0.001"}"#) == "0")
        #expect(value(text, #"meridian_gateway_request_duration_seconds_bucket{source="east",destination="south",service="chat",le="0.002"}"#) == "1")
        let south = try #require(text.range(of: #"destination="south""#))
        let west = try #require(text.range(of: #"destination="west""#))
        #expect(south.lowerBound < west.lowerBound)
    }
}
