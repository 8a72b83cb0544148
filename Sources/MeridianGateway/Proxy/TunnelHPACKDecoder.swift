import NIOCore
import NIOHPACK

/// A header block decoding error of a tunnel connection (a `COMPRESSION_ERROR` for the connection).
struct TunnelHPACKError: Error, CustomStringConvertible {
    var description: String
}

/// HPACK decoding (RFC 7541) for tunnel connections (``TunnelHTTP2Handler``), in place of NIOHPACK's `HPACKDecoder`,
/// which keeps its dynamic table as bytes and makes two new strings for every field it takes from it. Here the table
/// holds the strings themselves: a field the peer sends as an index (most fields of most requests: method, scheme,
/// authority, the client's fields) costs a lookup and two retains.
///
/// Literals coded with Huffman (what most peers send: h2c clients, model servers, gateways of earlier versions) are
/// decoded by ``HPACKHuffmanDecoder``. ``TunnelHPACKEncoder`` sends none.
///
/// Limits: the dynamic table at most `maxTableSize` (this end's `SETTINGS_HEADER_TABLE_SIZE`: a size update above it
/// is an error), a header list at most `maxHeaderListSize` (RFC 9113 6.5.2: names, values and 32 per field), integers
/// that fit 31 bits. Any error is the connection's (`COMPRESSION_ERROR`): the table can no longer follow the peer's.
struct TunnelHPACKDecoder {
    private struct Entry {
        var name: String
        var value: String
        var size: Int
    }

    let maxTableSize: Int
    let maxHeaderListSize: Int
    /// The table's size limit the peer set last (a size update), at most `maxTableSize`.
    private var tableSizeLimit: Int
    /// Newest last.
    private var table = CircularBuffer<Entry>(initialCapacity: 16)
    private var tableSize = 0
    private let huffman = HPACKHuffmanDecoder()

    init(maxTableSize: Int = TunnelHPACKEncoder.defaultTableSize, maxHeaderListSize: Int) {
        self.maxTableSize = maxTableSize
        self.maxHeaderListSize = maxHeaderListSize
        tableSizeLimit = maxTableSize
    }

    /// The fields of a whole header block (all of `block`'s readable bytes).
    ///
    /// Every field comes back indexable: a block is translated to an HTTP/1-style head at once, which keeps no
    /// indexing (``TunnelHPACKEncoder`` decides it again, by name), and `HPACKHeaders.add(name:value:indexing:)` scans
    /// every name for non-ASCII bytes, a String iteration that cost more than the rest of the decoding (names are
    /// checked here, where they arrive as literals).
    mutating func decode(_ block: ByteBuffer) throws(TunnelHPACKError) -> HPACKHeaders {
        var fields: [(String, String)] = []
        fields.reserveCapacity(24)
        var listSize = 0
        var fieldSeen = false
        var offset = block.readerIndex
        let end = block.writerIndex
        while offset < end {
            let first = block.getInteger(at: offset, as: UInt8.self)!
            let name: String
            let value: String
            if first & 0x80 != 0 {
                // Indexed field.
                let index = try Self.integer(block, at: &offset, end: end, prefix: 7)
                (name, value) = try field(at: index)
            } else if first & 0xe0 == 0x20 {
                // A dynamic table size update: only before the block's first field.
                guard !fieldSeen else { throw TunnelHPACKError(description: "a table size update after a field") }
                let size = try Self.integer(block, at: &offset, end: end, prefix: 5)
                guard size <= maxTableSize else {
                    throw TunnelHPACKError(description: "a table size update to \(size) bytes, above the \(maxTableSize) allowed")
                }
                tableSizeLimit = size
                evict(toFit: 0)
                continue
            } else {
                // A literal: with incremental indexing (01), without (0000), never indexed (0001).
                let incremental = first & 0xc0 == 0x40
                let prefix = incremental ? 6 : 4
                let nameIndex = try Self.integer(block, at: &offset, end: end, prefix: prefix)
                if nameIndex == 0 {
                    name = try string(block, at: &offset, end: end)
                    // (HPACKHeaders' `add` traps on a name that is not ASCII; and HTTP/2 names are.)
                    guard name.utf8.allSatisfy({ $0 < 0x80 }) else { throw TunnelHPACKError(description: "a field name that is not ASCII") }
                } else {
                    name = try field(at: nameIndex).name
                }
                value = try string(block, at: &offset, end: end)
                if incremental { insert(name, value) }
            }
            fieldSeen = true
            listSize += name.utf8.count + value.utf8.count + 32
            guard listSize <= maxHeaderListSize else {
                throw TunnelHPACKError(description: "a header list of more than \(maxHeaderListSize) bytes")
            }
            fields.append((name, value))
        }
        return HPACKHeaders(fields)
    }

    /// The field at a (static or dynamic) table index.
    private func field(at index: Int) throws(TunnelHPACKError) -> (name: String, value: String) {
        let staticCount = TunnelHPACKEncoder.staticTable.count
        if index >= 1, index <= staticCount { return TunnelHPACKEncoder.staticTable[index - 1] }
        let dynamic = index - staticCount - 1
        guard index > 0, dynamic < table.count else { throw TunnelHPACKError(description: "a table index (\(index)) that is not in the table") }
        let entry = table[table.index(table.endIndex, offsetBy: -1 - dynamic)]
        return (entry.name, entry.value)
    }

    private mutating func insert(_ name: String, _ value: String) {
        let size = name.utf8.count + value.utf8.count + 32
        evict(toFit: size)
        // An entry larger than the table empties it and is not inserted (RFC 7541 4.4).
        guard size <= tableSizeLimit else { return }
        table.append(Entry(name: name, value: value, size: size))
        tableSize += size
    }

    private mutating func evict(toFit bytes: Int) {
        while tableSize + bytes > tableSizeLimit, let oldest = table.popFirst() {
            tableSize -= oldest.size
        }
    }

    /// An integer with an N-bit prefix (RFC 7541 5.1), at most 2^31 - 1.
    private static func integer(_ block: ByteBuffer, at offset: inout Int, end: Int, prefix: Int) throws(TunnelHPACKError) -> Int {
        let mask = (1 << prefix) - 1
        var value = Int(block.getInteger(at: offset, as: UInt8.self)!) & mask
        offset += 1
        guard value == mask else { return value }
        var shift = 0
        while true {
            guard offset < end else { throw TunnelHPACKError(description: "a header block that ends inside an integer") }
            let byte = Int(block.getInteger(at: offset, as: UInt8.self)!)
            offset += 1
            value += (byte & 0x7f) << shift
            guard value <= Int(Int32.max) else { throw TunnelHPACKError(description: "an integer past 2^31 - 1") }
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// A string literal: its length, then its bytes, as they are or Huffman-coded.
    private mutating func string(_ block: ByteBuffer, at offset: inout Int, end: Int) throws(TunnelHPACKError) -> String {
        guard offset < end else { throw TunnelHPACKError(description: "a header block that ends before a string") }
        let huffmanCoded = block.getInteger(at: offset, as: UInt8.self)! & 0x80 != 0
        let length = try Self.integer(block, at: &offset, end: end, prefix: 7)
        guard length <= end - offset else { throw TunnelHPACKError(description: "a string longer than its header block") }
        defer { offset += length }
        guard huffmanCoded else {
            return block.getString(at: offset, length: length)!
        }
        let decoded = block.withUnsafeReadableBytes { bytes in
            huffman.decode(UnsafeRawBufferPointer(rebasing: bytes[(offset - block.readerIndex)..<(offset - block.readerIndex + length)]))
        }
        guard let decoded else { throw TunnelHPACKError(description: "a Huffman-coded string that did not decode") }
        return decoded
    }
}
