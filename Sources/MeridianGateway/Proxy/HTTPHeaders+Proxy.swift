import NIOHTTP1

extension HTTPHeaders {
    /// Hop-by-hop headers (RFC 9110 7.6.1) a proxy must not forward, plus any the `connection` header names.
    /// `transfer-encoding` is kept: the HTTP/1 encoders frame the body by it and the HTTP/2 codecs drop it.
    mutating func removeHopByHop() {
        var named: [String] = []
        for value in self[canonicalForm: "connection"] { named.append(value.lowercased()) }
        for name in ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "upgrade", "expect", "http2-settings"] {
            remove(name: name)
        }
        for name in named where name != "transfer-encoding" && name != "te" && name != "trailer" { remove(name: name) }
        // `te` may only say `trailers` on HTTP/2, and gRPC needs exactly that end to end.
        if let te = first(name: "te") {
            remove(name: "te")
            if te.lowercased().contains("trailers") { add(name: "te", value: "trailers") }
        }
    }
}
