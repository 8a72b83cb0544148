/// `HOST:PORT` parsing and formatting, IPv6 in brackets.
public enum HostPort {
    /// Splits `HOST:PORT` (`[::1]:8080` for IPv6); `nil` when the port is missing or out of range.
    public static func parse(_ text: some StringProtocol) -> (host: String, port: Int)? {
        let text = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (0...65535).contains(port), !host.isEmpty else { return nil }
            return (String(host), port)
        }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = text[..<colon]
        guard !host.isEmpty, !host.contains(":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    /// Formats `host:port`, bracketing IPv6 literals.
    public static func format(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
