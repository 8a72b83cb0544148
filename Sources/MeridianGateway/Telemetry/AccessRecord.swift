#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One access-log line: a request and the routing decision behind it.
public struct AccessRecord: Sendable {
    /// `local` or `tunnel`.
    public var listener: String
    public var method: String
    public var path: String
    public var service: String?
    public var dataClass: String?
    /// This gateway's cluster.
    public var source: String
    /// The verified caller cluster (tunnel) .
    public var caller: String?
    /// Destination cluster (or `local`), when one was chosen.
    public var destination: String?
    /// The local endpoint, for requests served here.
    public var endpoint: String?
    public var level: Int?
    /// `primary`, `failover`, `panic`, `refused`, `forbidden`, `local`, ...
    public var reason: String
    public var tableVersion: Int64?
    public var status: Int
    public var attempts: Int
    public var durationSeconds: Double
    public var requestBytes: Int64
    public var responseBytes: Int64
    /// The `traceparent` the request went on with, or, refused, the one it came with (if any).
    public var traceparent: String? {
        get { sentTraceparent?.string ?? receivedTraceparent }
        set { (receivedTraceparent, sentTraceparent) = (newValue, nil) }
    }
    /// What the gateway sent on, held inline: the string is made only when a line is written.
    var sentTraceparent: Traceparent?
    var receivedTraceparent: String?
    public var error: String?

    /// The JSON object, one line.
    public var json: String {
        var line = "{\"ts\":" + Self.fixed3(Date().timeIntervalSince1970)
        func add(_ key: String, _ value: String?) {
            guard let value else { return }
            line += ",\"" + key + "\":" + JSONText.quote(value)
        }
        func add(_ key: String, number: String?) {
            guard let number else { return }
            line += ",\"" + key + "\":" + number
        }
        add("listener", listener)
        add("method", method)
        add("path", path)
        add("service", service)
        add("class", dataClass)
        add("source", source)
        add("caller", caller)
        add("destination", destination)
        add("endpoint", endpoint)
        add("level", number: level.map(String.init))
        add("reason", reason)
        add("table_version", number: tableVersion.map(String.init))
        add("status", number: String(status))
        add("attempts", number: String(attempts))
        add("duration_ms", number: Self.fixed3(durationSeconds * 1000))
        add("bytes_in", number: String(requestBytes))
        add("bytes_out", number: String(responseBytes))
        add("traceparent", traceparent)
        add("error", error)
        return line + "}"
    }

    /// `value` with three decimals, without Foundation's formatter (this runs once per request).
    static func fixed3(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let thousandths = Int64((abs(value) * 1000).rounded())
        let fraction = thousandths % 1000
        let digits = String(fraction)
        return (value < 0 ? "-" : "") + String(thousandths / 1000) + "." + String(repeating: "0", count: 3 - digits.count) + digits
    }
}
