import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
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
    public var traceparent: String?
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

/// Writes access-log lines: buffered to standard output (flushed by ``flush()`` at least every 250 ms by the
/// gateway, and whenever 64 KiB accumulate), to a logger, or nowhere.
public final class AccessLog: Sendable {
    private let destination: AccessLogDestination
    private let logger: Logger
    private let buffer = Mutex<[UInt8]>([])
    private static let flushThreshold = 64 * 1024

    public init(destination: AccessLogDestination, logger: Logger) {
        self.destination = destination
        self.logger = logger
    }

    public var isEnabled: Bool { destination != .disabled }

    public func write(_ record: AccessRecord) {
        switch destination {
        case .disabled:
            return
        case .logger:
            logger.info("\(record.json)")
        case .standardOutput:
            let line = record.json
            let full = buffer.withLock { buffer -> [UInt8]? in
                buffer.append(contentsOf: line.utf8)
                buffer.append(UInt8(ascii: "\n"))
                guard buffer.count >= Self.flushThreshold else { return nil }
                defer { buffer.removeAll(keepingCapacity: true) }
                return buffer
            }
            if let full { Self.writeOut(full) }
        }
    }

    /// Writes buffered lines out.
    public func flush() {
        let pending = buffer.withLock { buffer -> [UInt8] in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        if !pending.isEmpty { Self.writeOut(pending) }
    }

    private static func writeOut(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = systemWrite(1, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

@inline(__always)
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Darwin)
    return Darwin.write(fd, buffer, count)
    #elseif canImport(Musl)
    return Musl.write(fd, buffer, count)
    #else
    return Glibc.write(fd, buffer, count)
    #endif
}
