/// Where access-log lines go.
public enum AccessLogDestination: Sendable, Hashable {
    /// One JSON line per request on standard output (buffered, flushed at least every 250 ms).
    case standardOutput
    /// One JSON line per request as an `info` message of the gateway's logger.
    case logger
    /// No access log.
    case disabled
}
