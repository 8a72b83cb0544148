#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
