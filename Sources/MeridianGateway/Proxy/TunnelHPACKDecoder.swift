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
    /// How many times the table changed (an insertion, an eviction, a size update).
    private var changes = 0
    /// The last block, when decoding it left the table as it was (it had indexes and literals without indexing
    /// only), its fields, and where each of its fields ended in it. Only decoding changes the table, and every decode
    /// forgets the last block first, so while one is kept the table is as it left it. A block that begins with the
    /// same bytes begins with the same fields: they are copied, not decoded
    /// (a request's head repeats the one before on the connection but for its `traceparent`, the last field; a
    /// response's head, and an h2c client's request, mostly repeat it byte for byte, and are handed out again whole).
    /// Decoding a head's fields cost about 4,000 instructions.
    private var lastBlock: [UInt8] = []
    private var lastFields: HeaderFields?
    private var lastFieldEnds: [Int] = []
    /// Blocks larger than this are not kept.
    static let longestBlockKept = 1024
    /// How many blocks were handed out again whole, and how many fields were copied from the last block (for the
    /// tests).
    private(set) var blocksRepeated = 0
    private(set) var fieldsRepeated = 0

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
        // On the block's bytes in place: a `ByteBuffer` read of a byte costs about 25 instructions.
        try block.withUnsafeReadableBytes { bytes in
            Result { () throws(TunnelHPACKError) -> HeaderFields in try decode(bytes) }
        }.get()
    }

    private mutating func decode(_ block: UnsafeRawBufferPointer) throws(TunnelHPACKError) -> HeaderFields {
        var fields: HeaderFields
        var offset = 0
        if let last = lastFields, !block.isEmpty {
            // How many of the last block's fields this one begins with: up to the first byte that differs.
            let common = lastBlock.withUnsafeBytes { Self.commonPrefix(block, $0) }
            if common == lastBlock.count && common == block.count {
                blocksRepeated += 1
                return last
            }
            var reused = 0
            while reused < lastFieldEnds.count, lastFieldEnds[reused] <= common { reused += 1 }
            lastFieldEnds.removeLast(lastFieldEnds.count - reused)
            if reused > 0 {
                fields = HeaderFields(prefix: reused, of: last, extraFields: 8, extraBytes: 256)
                offset = lastFieldEnds[reused - 1]
                fieldsRepeated += reused
            } else {
                fields = HeaderFields(reservingFields: 16, bytes: 512)
            }
        } else {
            lastFieldEnds.removeAll(keepingCapacity: true)
            fields = HeaderFields(reservingFields: 16, bytes: 512)
        }
        lastFields = nil   // (until this block is decoded, without error)
        let changesBefore = changes
        try decodeFields(block, from: offset, into: &fields)
        if changes == changesBefore, block.count <= Self.longestBlockKept {
            lastBlock.removeAll(keepingCapacity: true)
            lastBlock.append(contentsOf: block)
            lastFields = fields
        }
        return fields
    }

    /// The number of bytes `a` and `b` begin with alike, compared a word at a time.
    private static func commonPrefix(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let count = min(a.count, b.count)
        guard count > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return 0 }
        var index = 0
        while index + 8 <= count, pa.loadUnaligned(fromByteOffset: index, as: UInt64.self) == pb.loadUnaligned(fromByteOffset: index, as: UInt64.self) {
            index += 8
        }
        while index < count, a[index] == b[index] { index += 1 }
        return index
    }

    /// Decodes the block's fields from `start` (a field's start: the fields before it are in `fields`), noting
    /// where each ends (``lastFieldEnds``).
    private mutating func decodeFields(_ block: UnsafeRawBufferPointer, from start: Int, into fields: inout HeaderFields) throws(TunnelHPACKError) {
        var listSize = fields.bytes.count + 32 * fields.count
        var fieldSeen = !fields.isEmpty
        var offset = start
        while offset < block.count {
            let first = block[offset]
            let before = fields.bytes.count
            if first & 0x80 != 0 {
                // Indexed field: its strings' bytes are copied from the table.
                let index = try Self.integer(block, at: &offset, prefix: 7)
                try entry(at: index).append(to: &fields)
            } else if first & 0xe0 == 0x20 {
                // A dynamic table size update: only before the block's first field.
                guard !fieldSeen else { throw TunnelHPACKError(description: "a table size update after a field") }
                let size = try Self.integer(block, at: &offset, prefix: 5)
                guard size <= maxTableSize else {
                    throw TunnelHPACKError(description: "a table size update to \(size) bytes, above the \(maxTableSize) allowed")
                }
                tableSizeLimit = size
                evict(toFit: 0)
                continue
            } else {
                // A literal: with incremental indexing (01), without (0000), never indexed (0001). Its bytes go into
                // the fields first; an entry for the table is copied from there. Its name is read where it is: in the
                // block, or in the table entry it names.
                let incremental = first & 0xc0 == 0x40
                let nameIndex = try Self.integer(block, at: &offset, prefix: incremental ? 6 : 4)
                let known: HeaderName.Known?
                if nameIndex == 0 {
                    let (huffmanCoded, range) = try Self.string(block, at: &offset)
                    let name = UnsafeRawBufferPointer(rebasing: block[range]).assumingMemoryBound(to: UInt8.self)
                    if huffmanCoded {
                        guard let decoded = huffman.decode(UnsafeRawBufferPointer(name)) else {
                            throw TunnelHPACKError(description: "a Huffman-coded string that did not decode")
                        }
                        known = try decoded.withUTF8Bytes { name in
                            Result { () throws(TunnelHPACKError) in try appendLiteral(block, at: &offset, name: name, to: &fields) }
                        }.get()
                    } else {
                        known = try appendLiteral(block, at: &offset, name: name, to: &fields)
                    }
                } else {
                    let entry = try self.entry(at: nameIndex)
                    known = entry.known
                    try entry.withName { name in
                        Result { () throws(TunnelHPACKError) in try appendLiteral(block, at: &offset, name: name, known: entry.known, to: &fields) }
                    }.get()
                }
                if incremental {
                    let index = fields.count - 1
                    fields.withName(at: index) { name in fields.withValue(at: index) { value in insert(Entry(name: name, value: value, known: known)) } }
                }
            }
            fieldSeen = true
            lastFieldEnds.append(offset)
            listSize += fields.bytes.count - before + 32
            guard listSize <= maxHeaderListSize else {
                throw TunnelHPACKError(description: "a header list of more than \(maxHeaderListSize) bytes")
            }
        }
    }

    /// The entry at a (static or dynamic) table index.
    private func entry(at index: Int) throws(TunnelHPACKError) -> Entry {
        let staticCount = Self.staticEntries.count
        if index >= 1, index <= staticCount { return Self.staticEntries[index - 1] }
        let dynamic = index - staticCount - 1
        guard index > 0, dynamic < table.count else { throw TunnelHPACKError(description: "a table index (\(index)) that is not in the table") }
        return table[table.index(table.endIndex, offsetBy: -1 - dynamic)]
    }

    /// A literal value appended with a literal `name` (classified here, once; HTTP/2 names are ASCII, and NIO's
    /// HPACKHeaders, which an error report builds, traps on others); returns the name's class.
    private func appendLiteral(_ block: UnsafeRawBufferPointer, at offset: inout Int, name: UnsafeBufferPointer<UInt8>,
                               to fields: inout HeaderFields) throws(TunnelHPACKError) -> HeaderName.Known? {
        guard name.allSatisfy({ $0 < 0x80 }) else { throw TunnelHPACKError(description: "a field name that is not ASCII") }
        let known = HeaderName.known(bytes: name)
        try appendLiteral(block, at: &offset, name: name, known: known, to: &fields)
        return known
    }

    /// A literal value appended with `name`: its bytes as they are, or Huffman-decoded straight into the fields.
    private func appendLiteral(_ block: UnsafeRawBufferPointer, at offset: inout Int, name: UnsafeBufferPointer<UInt8>, known: HeaderName.Known?,
                               to fields: inout HeaderFields) throws(TunnelHPACKError) {
        let (huffmanCoded, range) = try Self.string(block, at: &offset)
        let value = UnsafeRawBufferPointer(rebasing: block[range])
        if huffmanCoded {
            guard fields.append(name: name, huffmanCodedValue: value, known: known, decoder: huffman) else {
                throw TunnelHPACKError(description: "a Huffman-coded string that did not decode")
            }
        } else {
            fields.append(name: name, value: value.assumingMemoryBound(to: UInt8.self), known: known)
        }
    }

    /// RFC 7541's static table, each name classified.
    private static let staticEntries = TunnelHPACKEncoder.staticTable.map { Entry(name: $0.0, value: $0.1) }

    private mutating func insert(_ entry: Entry) {
        changes += 1
        evict(toFit: entry.size)
        // An entry larger than the table empties it and is not inserted (RFC 7541 4.4).
        guard entry.size <= tableSizeLimit else { return }
        table.append(entry)
        tableSize += entry.size
    }

    private mutating func evict(toFit bytes: Int) {
        changes += 1
        while tableSize + bytes > tableSizeLimit, let oldest = table.popFirst() {
            tableSize -= oldest.size
        }
    }

    /// An integer with an N-bit prefix (RFC 7541 5.1), at most 2^31 - 1, at `offset` (within the block).
    private static func integer(_ block: UnsafeRawBufferPointer, at offset: inout Int, prefix: Int) throws(TunnelHPACKError) -> Int {
        let mask = (1 << prefix) - 1
        var value = Int(block[offset]) & mask
        offset += 1
        guard value == mask else { return value }
        var shift = 0
        while true {
            guard offset < block.count else { throw TunnelHPACKError(description: "a header block that ends inside an integer") }
            let byte = Int(block[offset])
            offset += 1
            value += (byte & 0x7f) << shift
            guard value <= Int(Int32.max) else { throw TunnelHPACKError(description: "an integer past 2^31 - 1") }
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// A string literal at `offset`: whether it is Huffman-coded, and where its bytes are in the block.
    private static func string(_ block: UnsafeRawBufferPointer, at offset: inout Int) throws(TunnelHPACKError) -> (Bool, Range<Int>) {
        guard offset < block.count else { throw TunnelHPACKError(description: "a header block that ends before a string") }
        let huffmanCoded = block[offset] & 0x80 != 0
        let length = try integer(block, at: &offset, prefix: 7)
        guard length <= block.count - offset else { throw TunnelHPACKError(description: "a string longer than its header block") }
        defer { offset += length }
        return (huffmanCoded, offset..<(offset + length))
    }
}
