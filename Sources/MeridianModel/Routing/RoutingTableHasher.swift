import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Computes ``RoutingTable/contentHash()`` without `Codable`: the same canonical JSON bytes (sorted keys, the
/// escapes and number formatting of Foundation's `JSONEncoder`), written directly and streamed into SHA-256.
///
/// The router hashes one table per cluster on every compile, and each table names every other cluster as a
/// peer; through `JSONEncoder` that costs about a millisecond for a small table and grows with the mesh. This
/// writer encodes the policy once, keeps the serialized peer list of the whole mesh, and hashes a table's peers
/// as two slices of it. Tests check that it agrees with `contentHash()` byte for byte.
public struct RoutingTableHasher: Sendable {
    /// The policy every table carries, as canonical JSON.
    let policy: ResidencyPolicy
    let policyJSON: [UInt8]
    /// Every cluster of the mesh, sorted by name, and its serialized peer list.
    let allPeers: [PeerGateway]
    let allPeersJSON: [UInt8]
    /// Start offset of each peer in `allPeersJSON` (peers are joined by commas), plus a sentinel.
    let peerOffsets: [Int]

    /// - Parameters:
    ///   - policy: the policy the tables carry (tables with another policy are hashed correctly, only slower).
    ///   - peers: every cluster of the mesh as a peer, sorted by name: a table whose peers are all of these but
    ///     its own `local` is hashed from precomputed bytes.
    public init(policy: ResidencyPolicy, peers: [PeerGateway] = []) {
        self.policy = policy
        policyJSON = Array((try? RoutingTable.canonicalEncoder.encode(policy)) ?? Data())
        allPeers = peers
        var writer = CanonicalJSONWriter()
        var offsets: [Int] = []
        offsets.reserveCapacity(peers.count + 1)
        for (index, peer) in peers.enumerated() {
            if index > 0 { writer.raw(",") }
            offsets.append(writer.bytes.count)
            writer.peer(peer)
        }
        // A sentinel one past the end, as if a comma followed the last peer: peer i ends at offsets[i + 1] - 1.
        offsets.append(writer.bytes.count + 1)
        allPeersJSON = writer.bytes
        peerOffsets = offsets
    }

    /// The table's content hash: equal to `table.contentHash()`.
    public func hash(_ table: RoutingTable) -> String {
        hash(table, omittedPeer: omittedPeer(of: table))
    }

    /// The hash of a table whose peers the caller built as every peer given to ``init(policy:peers:)`` but the one
    /// at `index` (its `local`): skips comparing the peer lists, which costs as much as hashing them. Debug builds
    /// check the precondition.
    public func hash(_ table: RoutingTable, peersAreAllBut index: Int) -> String {
        assert(omittedPeer(of: table) == index, "the table's peers are not all the peers but \(index)")
        return hash(table, omittedPeer: index)
    }

    func hash(_ table: RoutingTable, omittedPeer: Int?) -> String {
        var sha = SHA256()
        var writer = CanonicalJSONWriter()
        writer.bytes.reserveCapacity(1 << 17)
        writer.raw("{\"entries\":[")
        for (index, entry) in table.entries.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.entry(entry)
            if writer.bytes.count >= 1 << 16 { writer.flush(into: &sha) }
        }
        writer.raw("],\"hash\":\"\",\"local\":")
        writer.peer(table.local)
        writer.raw(",\"peers\":[")
        if let omitted = omittedPeer {
            writer.flush(into: &sha)
            let start = peerOffsets[omitted], end = peerOffsets[omitted + 1] - 1
            if omitted == 0 {
                sha.update(data: allPeersJSON[end...].dropFirst())
            } else {
                sha.update(data: allPeersJSON[..<(start - 1)])
                sha.update(data: allPeersJSON[end...])
            }
        } else {
            for (index, peer) in table.peers.enumerated() {
                if index > 0 { writer.raw(",") }
                writer.peer(peer)
                if writer.bytes.count >= 1 << 16 { writer.flush(into: &sha) }
            }
        }
        writer.raw("],\"policy\":")
        if table.policy == policy {
            writer.flush(into: &sha)
            sha.update(data: policyJSON)
        } else {
            writer.bytes.append(contentsOf: (try? RoutingTable.canonicalEncoder.encode(table.policy)) ?? Data())
        }
        writer.tail(of: table)
        writer.raw(",\"version\":0}")
        // JSONEncoder refuses NaN and infinities, and contentHash() then hashes nothing: defer to it.
        if writer.sawNonFinite { return table.contentHash() }
        writer.flush(into: &sha)
        return sha.finalize().hexString
    }

    /// The table as canonical JSON, with its hash and version: byte for byte `table.canonicalJSON()`, written
    /// without `Codable` (which manages about 5 MB/s on Linux; a change in a 500-cluster mesh publishes 25 MB).
    public func canonicalJSON(_ table: RoutingTable) throws -> [UInt8] {
        var writer = CanonicalJSONWriter()
        writer.bytes.reserveCapacity(1 << 15)
        writer.raw("{\"entries\":[")
        for (index, entry) in table.entries.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.entry(entry)
        }
        writer.raw("],\"hash\":")
        writer.string(table.hash)
        writer.raw(",\"local\":")
        writer.peer(table.local)
        writer.raw(",\"peers\":[")
        for (index, peer) in table.peers.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.peer(peer)
        }
        writer.raw("],\"policy\":")
        if table.policy == policy {
            writer.bytes.append(contentsOf: policyJSON)
        } else {
            writer.bytes.append(contentsOf: try RoutingTable.canonicalEncoder.encode(table.policy))
        }
        writer.tail(of: table)
        writer.raw(",\"version\":")
        writer.bytes.append(contentsOf: String(table.version).utf8)
        writer.raw("}")
        // JSONEncoder refuses NaN and infinities: let it say so.
        if writer.sawNonFinite { return Array(try table.canonicalJSON()) }
        return writer.bytes
    }

    /// The index in `allPeers` of the table's `local`, when the table's peers are exactly the others.
    func omittedPeer(of table: RoutingTable) -> Int? {
        guard !allPeers.isEmpty, table.peers.count == allPeers.count - 1 else { return nil }
        var low = 0, high = allPeers.count
        while low < high {
            let middle = (low + high) / 2
            if allPeers[middle].cluster < table.local.cluster { low = middle + 1 } else { high = middle }
        }
        guard low < allPeers.count, allPeers[low] == table.local else { return nil }
        guard table.peers[..<low].elementsEqual(allPeers[..<low]),
              table.peers[low...].elementsEqual(allPeers[(low + 1)...]) else { return nil }
        return low
    }
}

/// Writes the canonical JSON of routing-table parts, as `JSONEncoder` with `.sortedKeys` does.
struct CanonicalJSONWriter {
    var bytes: [UInt8] = []
    /// Set when a NaN or an infinity was written (JSONEncoder would have refused the value).
    var sawNonFinite = false

    /// The keys after `policy`, up to `version`: revoked serials, source, trust bundle.
    mutating func tail(of table: RoutingTable) {
        raw(",\"revokedSerials\":[")
        for (index, serial) in table.revokedSerials.enumerated() {
            if index > 0 { raw(",") }
            string(serial)
        }
        raw("],\"source\":")
        string(table.source)
        if let pem = table.trustBundlePEM {
            raw(",\"trustBundlePEM\":")
            string(pem)
        }
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// A string with `JSONEncoder`'s escapes: quote, backslash, slash, and control characters.
    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            bytes.append(0x22)
            var plain = true
            var index = 0
            while plain && index < utf8.count {
                let byte = utf8[index]
                plain = byte >= 0x20 && byte != 0x22 && byte != 0x5C && byte != 0x2F
                index += 1
            }
            if plain {
                bytes.append(contentsOf: utf8)
            } else {
                for byte in utf8 { escaped(byte) }
            }
            bytes.append(0x22)
        }
    }

    mutating func escaped(_ byte: UInt8) {
        switch byte {
        case 0x22: bytes.append(0x5C); bytes.append(0x22)
        case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
        case 0x2F: bytes.append(0x5C); bytes.append(0x2F)
        case 0x08: bytes.append(0x5C); bytes.append(0x62)
        case 0x0C: bytes.append(0x5C); bytes.append(0x66)
        case 0x0A: bytes.append(0x5C); bytes.append(0x6E)
        case 0x0D: bytes.append(0x5C); bytes.append(0x72)
        case 0x09: bytes.append(0x5C); bytes.append(0x74)
        case 0x00...0x1F:
            bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30])
            bytes.append(Self.hexDigit(byte >> 4))
            bytes.append(Self.hexDigit(byte & 0x0F))
        default: bytes.append(byte)
        }
    }

    /// A finite number as `JSONEncoder` writes it: Swift's shortest description, without a trailing `.0`.
    /// Two fast paths give the same text without the general algorithm: integers (timeouts) and numbers of at
    /// most six decimals in [0.0001, 1) (weights), which Swift describes as exactly those decimals.
    mutating func number(_ value: Double) {
        if !value.isFinite { sawNonFinite = true }
        if value >= 0.0001 && value < 1 {
            let millionths = (value * 1_000_000).rounded()
            if millionths / 1_000_000 == value {
                var digits = Int(millionths)
                var length = 6
                while digits % 10 == 0 {
                    digits /= 10
                    length -= 1
                }
                bytes.append(0x30)
                bytes.append(0x2E)
                var text = [UInt8](repeating: 0x30, count: length)
                var position = length - 1
                while digits > 0 {
                    text[position] = 0x30 + UInt8(digits % 10)
                    digits /= 10
                    position -= 1
                }
                bytes.append(contentsOf: text)
                return
            }
        }
        if value == value.rounded(), abs(value) < 1e15, !(value == 0 && value.sign == .minus) {
            int(Int(value))
            return
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    mutating func int(_ value: Int) {
        bytes.append(contentsOf: value.description.utf8)
    }

    mutating func peer(_ peer: PeerGateway) {
        raw("{\"address\":")
        string(peer.address)
        raw(",\"cluster\":")
        string(peer.cluster)
        raw(",\"jurisdiction\":{\"blocs\":[")
        for (index, bloc) in peer.jurisdiction.blocs.enumerated() {
            if index > 0 { raw(",") }
            string(bloc)
        }
        raw("],\"country\":")
        string(peer.jurisdiction.country)
        raw("}}")
    }

    mutating func entry(_ entry: RouteEntry) {
        raw("{\"dataClass\":")
        string(entry.dataClass)
        raw(",\"levels\":[")
        for (levelIndex, level) in entry.levels.enumerated() {
            if levelIndex > 0 { raw(",") }
            raw("{\"destinations\":[")
            for (index, destination) in level.destinations.enumerated() {
                if index > 0 { raw(",") }
                raw("{\"cluster\":")
                string(destination.cluster)
                raw(",\"weight\":")
                number(destination.weight)
                raw("}")
            }
            raw("]}")
        }
        raw("]")
        if let refusal = entry.refusal {
            raw(",\"refusal\":{\"reason\":")
            string(refusal.reason)
            raw(",\"status\":")
            int(refusal.status)
            raw("}")
        }
        raw(",\"service\":")
        string(entry.service)
        raw(",\"timeoutSeconds\":")
        number(entry.timeoutSeconds)
        raw("}")
    }

    mutating func flush(into sha: inout SHA256) {
        guard !bytes.isEmpty else { return }
        sha.update(data: bytes)
        bytes.removeAll(keepingCapacity: true)
    }

    static func hexDigit(_ value: UInt8) -> UInt8 { value < 10 ? 0x30 + value : 0x61 + value - 10 }
}
