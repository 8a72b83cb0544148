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
    /// A table entry: its name's and value's bytes, back to back, copied into a block's fields when the peer names it.
    private struct Entry {
        var bytes: FieldBytes
        var nameCount: Int
        /// The name's class (``HeaderName/known(_:)``), found when the entry was inserted.
        var known: HeaderName.Known?
        var size: Int { bytes.count + 32 }

        init(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, known: HeaderName.Known?) {
            bytes = FieldBytes(capacity: name.count + value.count)
            bytes.append(name)
            bytes.append(value)
            nameCount = name.count
            self.known = known
        }

        init(name: String, value: String) {
            self = name.withUTF8Bytes { name in value.withUTF8Bytes { value in Entry(name: name, value: value, known: HeaderName.known(bytes: name)) } }
        }

        func withName<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
            try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[..<nameCount])) }
        }

        /// Appends the entry to `fields`.
        func append(to fields: inout HeaderFields) {
            bytes.withUnsafeBufferPointer { bytes in
                fields.append(name: UnsafeBufferPointer(rebasing: bytes[..<nameCount]), value: UnsafeBufferPointer(rebasing: bytes[nameCount...]),
                              known: known)
            }
        }
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

    /// The fields of a whole header block (all of `block`'s readable bytes), each name classified
    /// (``HeaderFields/Field/known``): a name from the static table or this end's dynamic table costs no classification
    /// (its class was kept with it), a literal name is classified once.
    ///
    /// No field keeps its indexing: a block becomes an HTTP/1-style head at once, which keeps none
    /// (``TunnelHPACKEncoder`` decides it again, by name).
    mutating func decode(_ block: ByteBuffer) throws(TunnelHPACKError) -> HeaderFields {
        var fields = HeaderFields(reservingFields: 16, bytes: 512)
        var listSize = 0
        var fieldSeen = false
        var offset = block.readerIndex
        let end = block.writerIndex
        while offset < end {
            let first = block.getInteger(at: offset, as: UInt8.self)!
            let before = fields.bytes.count
            if first & 0x80 != 0 {
                // Indexed field: its strings' bytes are copied from the table.
                let index = try Self.integer(block, at: &offset, end: end, prefix: 7)
                try appendField(at: index, to: &fields)
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
                // A literal: with incremental indexing (01), without (0000), never indexed (0001). Its bytes go into
                // the fields first; an entry for the table is copied from there.
                let incremental = first & 0xc0 == 0x40
                let prefix = incremental ? 6 : 4
                let nameIndex = try Self.integer(block, at: &offset, end: end, prefix: prefix)
                let known: HeaderName.Known?
                var nameBytes = FieldBytes()
                if nameIndex == 0 {
                    let name = try string(block, at: &offset, end: end)
                    // HTTP/2 names are ASCII (NIO's HPACKHeaders, which an error report builds, traps on others).
                    guard name.utf8.allSatisfy({ $0 < 0x80 }) else { throw TunnelHPACKError(description: "a field name that is not ASCII") }
                    known = HeaderName.known(name)
                    _ = name.withUTF8Bytes { nameBytes.append($0) }
                } else {
                    let entry = try self.entry(at: nameIndex)
                    known = entry.known
                    _ = entry.withName { nameBytes.append($0) }
                }
                try appendLiteral(block, at: &offset, end: end, name: nameBytes, known: known, to: &fields)
                if incremental {
                    let index = fields.count - 1
                    fields.withName(at: index) { name in fields.withValue(at: index) { value in insert(Entry(name: name, value: value, known: known)) } }
                }
            }
            fieldSeen = true
            listSize += fields.bytes.count - before + 32
            guard listSize <= maxHeaderListSize else {
                throw TunnelHPACKError(description: "a header list of more than \(maxHeaderListSize) bytes")
            }
        }
        return fields
    }

    /// Appends the field at a (static or dynamic) table index.
    private func appendField(at index: Int, to fields: inout HeaderFields) throws(TunnelHPACKError) {
        try entry(at: index).append(to: &fields)
    }

    /// The entry at a (static or dynamic) table index.
    private func entry(at index: Int) throws(TunnelHPACKError) -> Entry {
        let staticCount = Self.staticEntries.count
        if index >= 1, index <= staticCount { return Self.staticEntries[index - 1] }
        let dynamic = index - staticCount - 1
        guard index > 0, dynamic < table.count else { throw TunnelHPACKError(description: "a table index (\(index)) that is not in the table") }
        return table[table.index(table.endIndex, offsetBy: -1 - dynamic)]
    }

    /// A literal value appended with `name`: its bytes as they are, or Huffman-decoded straight into the fields.
    private mutating func appendLiteral(_ block: ByteBuffer, at offset: inout Int, end: Int, name: FieldBytes, known: HeaderName.Known?,
                                        to fields: inout HeaderFields) throws(TunnelHPACKError) {
        guard offset < end else { throw TunnelHPACKError(description: "a header block that ends before a string") }
        let huffmanCoded = block.getInteger(at: offset, as: UInt8.self)! & 0x80 != 0
        let length = try Self.integer(block, at: &offset, end: end, prefix: 7)
        guard length <= end - offset else { throw TunnelHPACKError(description: "a string longer than its header block") }
        let start = offset - block.readerIndex
        let decoded = block.withUnsafeReadableBytes { bytes in
            let value = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)])
            return name.withUnsafeBufferPointer { name in
                huffmanCoded
                    ? fields.append(name: name, huffmanCodedValue: value, known: known, decoder: huffman)
                    : { fields.append(name: name, value: value.assumingMemoryBound(to: UInt8.self), known: known); return true }()
            }
        }
        guard decoded else { throw TunnelHPACKError(description: "a Huffman-coded string that did not decode") }
        offset += length
    }

    /// RFC 7541's static table, each name classified.
    private static let staticEntries = TunnelHPACKEncoder.staticTable.map { Entry(name: $0.0, value: $0.1) }

    private mutating func insert(_ entry: Entry) {
        evict(toFit: entry.size)
        // An entry larger than the table empties it and is not inserted (RFC 7541 4.4).
        guard entry.size <= tableSizeLimit else { return }
        table.append(entry)
        tableSize += entry.size
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
