#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of a head's fields (``HeaderFields``): a buffer of their own, appended to with `memcpy`, grown by doubling
/// and copied on write. (`[UInt8]`'s `append(contentsOf:)` and its initializer from a buffer copied byte by byte, about
/// 3,000 instructions per request in a gateway.)
///
/// `@unchecked Sendable` as `Array` is: copies share the buffer only until one of them writes (which copies it first).
struct FieldBytes: @unchecked Sendable {
    /// The buffer, whose header is its capacity (`ManagedBuffer.capacity` asks the allocator).
    private var storage: ManagedBuffer<Int, UInt8>?
    /// Its elements (kept here: reaching them through `storage` is a call per append).
    private var base: UnsafeMutablePointer<UInt8>?
    private var capacity = 0
    private(set) var count = 0

    init() {}

    init(capacity: Int) {
        if capacity > 0 { make(capacity) }
    }

    /// A copy of `bytes`, with room for `extra` more.
    init(copying bytes: UnsafeRawBufferPointer, extra: Int = 0) {
        self.init(capacity: bytes.count + extra)
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        memcpy(base!, source, bytes.count)
        count = bytes.count
    }

    private mutating func make(_ capacity: Int) {
        let storage = ManagedBuffer<Int, UInt8>.create(minimumCapacity: capacity) { _ in capacity }
        self.storage = storage
        base = storage.withUnsafeMutablePointerToElements { $0 }   // (the buffer outlives the pointer: `storage` holds it)
        self.capacity = capacity
    }

    /// Makes room for `more` bytes in a buffer this value alone holds; returns where they go.
    @inline(__always)
    private mutating func reserve(_ more: Int) -> UnsafeMutablePointer<UInt8> {
        if count + more <= capacity, isKnownUniquelyReferenced(&storage) { return base! + count }
        grow(to: count + more)
        return base! + count
    }

    private mutating func grow(to needed: Int) {
        // A shared buffer with room is copied at its capacity; a full one doubles.
        let (old, oldStorage) = (base, storage)   // (held until the bytes are copied)
        make(needed <= capacity ? capacity : Swift.max(needed, capacity * 2, 64))
        if let old, count > 0 { memcpy(base!, old, count) }
        withExtendedLifetime(oldStorage) {}
    }

    /// Appends `bytes`; returns the offset they start at.
    @discardableResult
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        let start = count
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return start }
        memcpy(reserve(bytes.count), source, bytes.count)
        count += bytes.count
        return start
    }

    /// Appends what `body` writes into room for up to `capacity` bytes (it returns how many it wrote; 0 when it failed).
    mutating func append(upTo capacity: Int, _ body: (UnsafeMutableBufferPointer<UInt8>) -> Int) {
        let out = reserve(capacity)
        let written = body(UnsafeMutableBufferPointer(start: out, count: capacity))
        precondition(written <= capacity)
        count += written
    }

    @inline(__always)
    func withUnsafeBufferPointer<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(storage) { try body(UnsafeBufferPointer(start: base, count: count)) }
    }

    subscript(index: Int) -> UInt8 {
        withUnsafeBufferPointer { $0[index] }
    }
}
