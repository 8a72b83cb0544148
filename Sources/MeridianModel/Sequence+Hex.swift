extension Sequence where Element == UInt8 {
    /// The bytes as lowercase hexadecimal, two digits each (`String(format: "%02x")` byte by byte, which
    /// FoundationEssentials does not have).
    public var hexString: String {
        var digits: [UInt8] = []
        digits.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            digits.append(CanonicalJSONWriter.hexDigit(byte >> 4))
            digits.append(CanonicalJSONWriter.hexDigit(byte & 0x0F))
        }
        return String(decoding: digits, as: UTF8.self)
    }
}
