import NIOHTTP2

/// A dictionary by stream ID whose hash is a multiply and a shift of the ID (and the table's seed) instead of
/// `Hasher`'s SipHash rounds: every frame of every stream looks its stream up, about five lookups per request in each of
/// ``TunnelHTTP2Handler`` and ``HTTP2StreamMux``, and a `Hasher` cost about 150 instructions each (callgrind). The IDs
/// of one connection are bounded by its concurrent streams, so a peer that chose colliding IDs would slow its own
/// connection only.
struct StreamTable<Value> {
    private struct Key: Hashable {
        let id: HTTP2StreamID

        func _rawHashValue(seed: Int) -> Int {
            let mixed = (UInt64(UInt32(bitPattern: Int32(id))) ^ UInt64(bitPattern: Int64(seed))) &* 0x9E37_79B9_7F4A_7C15
            return Int(truncatingIfNeeded: mixed ^ (mixed >> 29))
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(_rawHashValue(seed: 0))
        }
    }

    private var storage: [Key: Value] = [:]

    init() {}

    subscript(id: HTTP2StreamID) -> Value? {
        get { storage[Key(id: id)] }
        set { storage[Key(id: id)] = newValue }
    }

    @discardableResult
    mutating func removeValue(forKey id: HTTP2StreamID) -> Value? {
        storage.removeValue(forKey: Key(id: id))
    }

    mutating func removeAll() {
        storage.removeAll()
    }

    var isEmpty: Bool { storage.isEmpty }
    var values: some Collection<Value> { storage.values }
    var keys: [HTTP2StreamID] { storage.keys.map(\.id) }
}
