import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOHPACK

/// The HPACK encoder (RFC 7541) of ``TunnelHTTP2Handler``: the same wire format any HPACK decoder reads, at a fraction
/// of NIOHPACK's cost (its encoder was about 1,800 instructions a field: a case-insensitive hash of the name for the
/// static table, a linear search of the dynamic table comparing strings, about 300 per integer).
///
/// - One dictionary, by name, holds a name's static-table entries and its dynamic-table values (newest last): a field
///   costs one hash of its name and a comparison with the few values the name has.
/// - Literals are not Huffman-coded (both ends are gateways on a fast link; a repeated field is an index either way).
/// - Fields are indexed (added to the dynamic table), except:
///   - credentials (`authorization`, `proxy-authorization`, `cookie`, `set-cookie`) are never indexed (RFC 7541
///     section 7.1.3): the tunnel multiplexes many clients' requests, and an indexed credential would let one client
///     learn another's from the size of its own requests' blocks;
///   - `traceparent`, a new value on every request (a new span per hop), is not indexed: it would be inserted into
///     both ends' tables and evict the fields that do repeat.
/// - The table is as large as the peer allows, up to 4,096 bytes (the default); a smaller limit from the peer's
///   SETTINGS is signalled at the start of the next block.
struct TunnelHPACKEncoder {
    static let defaultTableSize = 4096
    /// Values longer than this are not indexed: they would push out many short fields that repeat.
    static let longestIndexedValue = 512

    /// What the table holds for a name: only integers, so that looking a field up copies no reference (the arrays
    /// of value bytes this held cost about ten retains and releases per block).
    private struct NameEntry {
        /// The first static-table index with this name (0: none).
        var staticIndex: Int32 = 0
        /// The static-table indexes with this name and a value (RFC 7541's table keeps a name's entries together).
        var staticValues: Range<Int32> = 0..<0
        /// The insertion number of the newest dynamic-table entry with this name (-1: none); each entry names the one
        /// before it of the same name.
        var newest = -1
    }

    /// A dynamic-table entry: its name, where its value is in ``ValueArena``, and the previous entry of its name.
    private struct DynamicEntry {
        var name: NameKey
        var valueStart: Int
        var valueCount: Int
        var previous: Int
    }

    /// The dynamic table's values, back to back, appended at the end and moved to the front once the end is reached
    /// (at most the table's size, 4,096 bytes, is live). Shared by copies of the encoder until one of them inserts.
    private final class ValueArena {
        static let capacity = 4 * defaultTableSize
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        var end = 0

        deinit { bytes.deallocate() }

        func copy() -> ValueArena {
            let copy = ValueArena()
            copy.bytes.update(from: bytes, count: end)
            copy.end = end
            return copy
        }
    }

    /// A name as the table's key, made from its bytes where it is (a field's name is bytes in its head,
    /// ``HeaderFields``): up to 24 bytes packed into three words, compared and hashed a word at a time (a string made
    /// for the lookup, and compared as one, cost about 200 instructions a field), and a longer name's bytes besides.
    private struct NameKey: Hashable, Sendable {
        let count: Int
        let w0: UInt64, w1: UInt64, w2: UInt64
        /// The bytes of a name longer than 24.
        let long: [UInt8]?

        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            count = bytes.count
            var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
            if let base = bytes.baseAddress {
                withUnsafeMutableBytes(of: &words) { $0.baseAddress!.copyMemory(from: base, byteCount: Swift.min(bytes.count, 24)) }
            }
            (w0, w1, w2) = words
            long = bytes.count > 24 ? Array(bytes) : nil
        }

        init(_ name: String) {
            self = name.withUTF8Bytes(NameKey.init)
        }

        /// What `Dictionary` asks of a key: the words mixed with the table's seed, without a `Hasher` (whose SipHash
        /// rounds cost about 150 instructions a lookup, more than the rest of a field's encoding). The names are
        /// bounded by the table (4,096 bytes), so a client that made them collide would slow its own encodings only.
        func _rawHashValue(seed: Int) -> Int {
            var hash = (UInt64(truncatingIfNeeded: count) ^ UInt64(bitPattern: Int64(seed))) &* 0x9E37_79B9_7F4A_7C15
            hash = (hash ^ w0) &* 0xFF51_AFD7_ED55_8CCD
            hash = (hash ^ w1) &* 0xC4CE_B9FE_1A85_EC53
            hash = (hash ^ w2) &* 0x9E37_79B9_7F4A_7C15
            return Int(truncatingIfNeeded: hash ^ (hash >> 29))
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(_rawHashValue(seed: 0))
        }

        static func == (lhs: NameKey, rhs: NameKey) -> Bool {
            lhs.count == rhs.count && lhs.w0 == rhs.w0 && lhs.w1 == rhs.w1 && lhs.w2 == rhs.w2 && lhs.long == rhs.long
        }
    }

    /// The fields of the last block, by position, that were sent as an index: a request's or response's head mostly
    /// repeats the one before on the connection, field for field, so the same field at the same position is sent
    /// as the same index after a comparison of its bytes (a table lookup cost about 250 instructions a field).
    /// A static index holds for good; a dynamic one while the table has not changed since (``changes``).
    private final class BlockMemo {
        struct Slot {
            var nameCount: Int32 = -1
            var valueCount: Int32 = 0
            /// The index sent.
            var index: Int32 = 0
            /// For a dynamic index: the table's ``TunnelHPACKEncoder/changes`` when it was sent (-1 for a static index).
            var changesAt = -1
        }

        /// The positions remembered, and the bytes of each position's name and value.
        static let positions = 32
        static let slotBytes = 128
        /// (Pointers, not arrays: an array read from a class's property is retained and bounds-checked per field.)
        let slots: UnsafeMutablePointer<Slot> = {
            let slots = UnsafeMutablePointer<Slot>.allocate(capacity: positions)
            slots.initialize(repeating: Slot(), count: positions)
            return slots
        }()
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: positions * slotBytes)

        deinit {
            slots.deallocate()
            bytes.deallocate()
        }

        /// The index sent last time at `position` for this name and value, if it still holds.
        @inline(__always)
        func index(at position: Int, _ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>, changes: Int) -> Int? {
            guard position < Self.positions else { return nil }
            let slot = slots[position]
            guard slot.nameCount == name.count, slot.valueCount == value.count, slot.changesAt < 0 || slot.changesAt == changes else { return nil }
            let stored = bytes + position * Self.slotBytes
            guard TunnelHPACKEncoder.same(name, stored, name.count), TunnelHPACKEncoder.same(value, stored + name.count, value.count) else { return nil }
            return Int(slot.index)
        }

        /// Remembers that `name` and `value` at `position` were sent as `index` (`changesAt`: for a dynamic index,
        /// the table's changes then), or, with `index` nil, forgets the position.
        func remember(at position: Int, _ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>, index: Int?, changesAt: Int) {
            guard position < Self.positions else { return }
            guard let index, name.count + value.count <= Self.slotBytes else {
                slots[position].nameCount = -1
                return
            }
            let stored = bytes + position * Self.slotBytes
            if let base = name.baseAddress { stored.update(from: base, count: name.count) }
            if let base = value.baseAddress { (stored + name.count).update(from: base, count: value.count) }
            slots[position] = Slot(nameCount: Int32(name.count), valueCount: Int32(value.count), index: Int32(index), changesAt: changesAt)
        }
    }

    /// Whether `value` is the `count` bytes at `stored`.
    @inline(__always)
    private static func same(_ value: UnsafeBufferPointer<UInt8>, _ stored: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        guard value.count == count else { return false }
        guard let base = value.baseAddress else { return true }
        return memcmp(base, stored, count) == 0
    }

    private var byName: [NameKey: NameEntry]
    /// The dynamic table, oldest first.
    private var entries = CircularBuffer<DynamicEntry>(initialCapacity: 64)
    private var values = ValueArena()
    /// How many times the values were moved to the front of their store (for the tests).
    private(set) var valueStoreMoves = 0
    /// How many entries were ever inserted: the newest has insertion number `inserted - 1`.
    private var inserted = 0
    /// How many times the table changed (an insertion, an eviction): a dynamic index sent since the last change
    /// still names the same entry.
    private var changes = 0
    private var size = 0
    private(set) var maxSize = defaultTableSize
    /// A size update to signal at the start of the next block.
    private var pendingSizeUpdate: Int?
    /// The last block's indexed fields (made at the first block).
    private var memo: BlockMemo?
    /// How many fields were sent from ``memo`` (for the tests).
    private(set) var memoHits = 0

    init() {
        byName = Self.staticByName
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE: the table is kept within it (and within the default).
    mutating func setTableSizeLimit(_ limit: Int) {
        let newSize = min(limit, Self.defaultTableSize)
        guard newSize != maxSize else { return }
        maxSize = newSize
        memo = nil
        pendingSizeUpdate = min(pendingSizeUpdate ?? newSize, newSize)
        evict(toFit: 0)
    }

    /// Appends the header block of `headers` to `buffer`, written in place in one access to the buffer (a
    /// `ByteBuffer` write of a byte costs about 290 instructions).
    mutating func encode(_ headers: HeaderFields, to buffer: inout ByteBuffer) {
        encode(StreamFrame.Headers(headers: headers), to: &buffer)
    }

    /// Appends the header block `block` sends (``StreamFrame/Headers/forEachField(_:)``: a head's fields are
    /// translated as they are written) to `buffer`, in place.
    mutating func encode(_ block: StreamFrame.Headers, to buffer: inout ByteBuffer) {
        // At most: each field's strings, their two lengths and its index (up to 6 bytes each), and a size update; a
        // head's pseudo-header fields besides.
        var bound = 12 + block.headers.fieldBytes + 18 * block.headers.count
        switch block.head {
        case nil, .trailers: break
        case .request(let method, let scheme, let path): bound += 4 * 18 + 30 + method.name.utf8.count + scheme.utf8.count + path.utf8.count
        case .response: bound += 18 + 20
        }
        // A copy of this encoder (the tests make them) shares the memo: each then starts its own.
        if memo == nil || !isKnownUniquelyReferenced(&memo!) { memo = BlockMemo() }
        let memo = memo!
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { bytes in
            var writer = Writer(bytes: bytes)
            if let update = pendingSizeUpdate {
                pendingSizeUpdate = nil
                if update < maxSize { writer.integer(update, prefix: 5, flags: 0x20) }
                writer.integer(maxSize, prefix: 5, flags: 0x20)
            }
            var position = 0
            block.forEachField { name, value, known in
                defer { position += 1 }
                if let index = memo.index(at: position, name, value, changes: changes) {
                    if index < 0x7f { writer.byte(0x80 | UInt8(index)) } else { writer.integer(index, prefix: 7, flags: 0x80) }
                    memoHits += 1
                    return
                }
                // The memo holds the name as the head has it: the same bytes lowercase the same way. (Lowercasing
                // every name of an endpoint's response, `Content-Type` and the like, cost about 700 instructions.)
                let sent = StreamFrame.Headers.withLowercased(name) {
                    encodeField($0, value, indexing: known == .traceparent ? .nonIndexable : .indexable, to: &writer)
                }
                memo.remember(at: position, name, value, index: sent?.index, changesAt: sent?.changesAt ?? -1)
            }
            return writer.count
        }
    }

    /// Writes into the buffer's writable bytes, which ``encode(_:to:)`` made large enough.
    struct Writer {
        let bytes: UnsafeMutableRawBufferPointer
        private(set) var count = 0

        init(bytes: UnsafeMutableRawBufferPointer) {
            self.bytes = bytes
        }

        mutating func byte(_ byte: UInt8) {
            bytes[count] = byte
            count += 1
        }

        /// An integer with an N-bit prefix (RFC 7541 section 5.1), the prefix's byte carrying `flags` above it.
        mutating func integer(_ value: Int, prefix: Int, flags: UInt8) {
            let limit = (1 << prefix) - 1
            guard value >= limit else { return byte(flags | UInt8(value)) }
            byte(flags | UInt8(limit))
            var rest = value - limit
            while rest >= 128 {
                byte(UInt8(rest & 0x7f | 0x80))
                rest >>= 7
            }
            byte(UInt8(rest))
        }

        /// A string literal, not Huffman-coded.
        mutating func string(_ source: UnsafeBufferPointer<UInt8>) {
            integer(source.count, prefix: 7, flags: 0)
            UnsafeMutableRawBufferPointer(rebasing: bytes[count...]).copyMemory(from: UnsafeRawBufferPointer(source))
            count += source.count
        }

    }

    /// Writes a field; returns the index it was sent as, if it was sent as one (with, for a dynamic index, the
    /// table's ``changes`` then; -1 for a static index).
    @discardableResult
    private mutating func encodeField(_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>, indexing: HPACKIndexing,
                                      to writer: inout Writer) -> (index: Int, changesAt: Int)? {
        var nameIndex = 0
        let key = NameKey(name)
        if let entry = byName[key] {
            for index in entry.staticValues {
                let stored = Self.staticValues[Int(index)]
                if Self.same(value, Self.staticValueBytes + stored.start, stored.count) {
                    writer.integer(Int(index), prefix: 7, flags: 0x80)
                    return (Int(index), -1)
                }
            }
            // The name's dynamic entries, newest first (as NIOHPACK searches), while they are in the table.
            let oldest = inserted - entries.count
            var insertion = entry.newest
            while insertion >= oldest {
                let dynamic = entries[entries.index(entries.startIndex, offsetBy: insertion - oldest)]
                if Self.same(value, values.bytes + dynamic.valueStart, dynamic.valueCount) {
                    let index = dynamicIndex(of: insertion)
                    writer.integer(index, prefix: 7, flags: 0x80)
                    return (index, changes)
                }
                insertion = dynamic.previous
            }
            nameIndex = entry.staticIndex != 0 ? Int(entry.staticIndex) : entry.newest >= oldest ? dynamicIndex(of: entry.newest) : 0
        }
        var indexing = indexing
        if indexing == .indexable, Self.isCredential(name) { indexing = .neverIndexed }
        if indexing == .indexable, value.count > Self.longestIndexedValue { indexing = .nonIndexable }
        switch indexing {
        case .indexable: writer.integer(nameIndex, prefix: 6, flags: 0x40)
        case .nonIndexable: writer.integer(nameIndex, prefix: 4, flags: 0x00)
        case .neverIndexed: writer.integer(nameIndex, prefix: 4, flags: 0x10)
        }
        if nameIndex == 0 { writer.string(name) }
        writer.string(value)
        if indexing == .indexable {
            insert(key, value)
        }
        return nil
    }

    private func dynamicIndex(of insertion: Int) -> Int {
        Self.staticTable.count + (inserted - insertion)
    }

    private mutating func insert(_ key: NameKey, _ value: UnsafeBufferPointer<UInt8>) {
        changes += 1
        let entrySize = key.count + value.count + 32
        guard entrySize <= maxSize else {
            // An entry larger than the table empties it (RFC 7541 section 4.4).
            evict(toFit: maxSize + 1)
            return
        }
        evict(toFit: entrySize)
        if !isKnownUniquelyReferenced(&values) { values = values.copy() }
        if values.end + value.count > ValueArena.capacity { moveValuesToFront() }
        let start = values.end
        if let base = value.baseAddress { (values.bytes + start).update(from: base, count: value.count) }
        values.end += value.count
        let previous = byName[key]?.newest ?? -1
        entries.append(DynamicEntry(name: key, valueStart: start, valueCount: value.count, previous: previous))
        byName[key, default: NameEntry()].newest = inserted
        inserted += 1
        size += entrySize
    }

    /// Moves the live values to the front of their store, oldest first (they are at most the table's size, a quarter
    /// of the store; each moves towards the front, never over a value not moved yet).
    private mutating func moveValuesToFront() {
        var end = 0
        for index in entries.indices {
            let entry = entries[index]
            memmove(values.bytes + end, values.bytes + entry.valueStart, entry.valueCount)
            entries[index].valueStart = end
            end += entry.valueCount
        }
        values.end = end
        valueStoreMoves += 1
    }

    /// Evicts the oldest entries until `bytes` more fit.
    private mutating func evict(toFit bytes: Int) {
        while size + bytes > maxSize, let oldest = entries.popFirst() {
            changes += 1
            size -= oldest.name.count + oldest.valueCount + 32
            let insertion = inserted - entries.count - 1
            // The oldest entry of the table is the oldest of its name: when it is also the newest, the name has no
            // dynamic entry left, and one without a static entry is forgotten.
            if let entry = byName[oldest.name], entry.newest == insertion {
                if entry.staticIndex == 0 {
                    byName[oldest.name] = nil
                } else {
                    byName[oldest.name]!.newest = -1
                }
            }
        }
    }

    private static func isCredential(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        switch name.count {
        case 6: name.equals("cookie")
        case 10: name.equals("set-cookie")
        case 13: name.equals("authorization")
        case 19: name.equals("proxy-authorization")
        default: false
        }
    }

    /// RFC 7541 Appendix A.
    static let staticTable: [(String, String)] = [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""),
        ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""),
        ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""),
        ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
        ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""),
        ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
        ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ]

    private static let staticByName: [NameKey: NameEntry] = {
        var byName: [NameKey: NameEntry] = [:]
        for (offset, (name, value)) in staticTable.enumerated() {
            let index = Int32(offset + 1)
            let key = NameKey(name)
            if byName[key] == nil { byName[key] = NameEntry(staticIndex: index) }
            // An empty value in the table stands for the name alone.
            if !value.isEmpty {
                let values = byName[key]!.staticValues
                byName[key]!.staticValues = (values.isEmpty ? index : values.lowerBound)..<(index + 1)
            }
        }
        return byName
    }()

    /// Where each static-table value is in ``staticValueBytes`` (by index; index 0 unused).
    private static let staticValues: [(start: Int, count: Int)] = {
        var start = 0
        return [(0, 0)] + staticTable.map { _, value in
            defer { start += value.utf8.count }
            return (start, value.utf8.count)
        }
    }()

    /// The static table's values, back to back, allocated once and never freed (read without a reference count).
    /// Written once, by the initializer, before any read: `nonisolated(unsafe)` because a pointer is not `Sendable`.
    nonisolated(unsafe) private static let staticValueBytes: UnsafePointer<UInt8> = {
        let bytes = staticTable.flatMap { Array($0.1.utf8) }
        let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        pointer.initialize(from: bytes, count: bytes.count)
        return UnsafePointer(pointer)
    }()
}
