import Foundation
import MeridianModel

/// What changes between two sets of tables, entry by entry: for `meridian policy apply --dry-run` and
/// `meridian route simulate`, which show which routes would change and which would become refusals before
/// anything is stored.
public struct RouteDiff: Codable, Sendable, Hashable {
    /// How one (source, service, data class) entry changes.
    public enum ChangeKind: String, Codable, Sendable, Hashable, CaseIterable {
        /// A new entry that routes (a new service, class or source).
        case added
        /// The entry is gone (the service is no longer exported, the class or the source was removed).
        case removed
        /// Levels, weights, timeout or refusal reason differ.
        case changed
        /// Routed before (or did not exist), refused now.
        case nowRefused
        /// Refused before, routed now.
        case noLongerRefused
    }

    /// One entry that changes.
    public struct Change: Codable, Sendable, Hashable {
        public var source: String
        public var service: String
        public var dataClass: String
        public var kind: ChangeKind
        /// The entry before; nil when it did not exist.
        public var before: RouteEntry?
        /// The entry after; nil when it no longer exists.
        public var after: RouteEntry?

        public init(source: String, service: String, dataClass: String, kind: ChangeKind, before: RouteEntry?, after: RouteEntry?) {
            self.source = source
            self.service = service
            self.dataClass = dataClass
            self.kind = kind
            self.before = before
            self.after = after
        }
    }

    /// Every change, sorted by (source, service, data class).
    public var changes: [Change]

    public init(changes: [Change]) {
        self.changes = changes
    }

    /// Compares `old` and `new` tables entry by entry.
    public init(old: [String: RoutingTable], new: [String: RoutingTable]) {
        var changes: [Change] = []
        for source in Set(old.keys).union(new.keys).sorted() {
            let oldTable = old[source], newTable = new[source]
            if let oldTable, let newTable, oldTable.entries == newTable.entries { continue }
            var before: [String: RouteEntry] = [:]
            for entry in oldTable?.entries ?? [] { before[Self.key(entry)] = entry }
            var after: [String: RouteEntry] = [:]
            for entry in newTable?.entries ?? [] { after[Self.key(entry)] = entry }
            for key in Set(before.keys).union(after.keys).sorted() {
                let was = before[key], now = after[key]
                guard was != now, let any = now ?? was else { continue }
                let kind: ChangeKind
                switch (was, now) {
                case (nil, let now?): kind = now.refusal != nil ? .nowRefused : .added
                case (_, nil): kind = .removed
                case (let was?, let now?):
                    if was.refusal == nil && now.refusal != nil { kind = .nowRefused }
                    else if was.refusal != nil && now.refusal == nil { kind = .noLongerRefused }
                    else { kind = .changed }
                }
                changes.append(Change(source: source, service: any.service, dataClass: any.dataClass, kind: kind, before: was, after: now))
            }
        }
        self.changes = changes
    }

    /// Whether nothing changes.
    public var isEmpty: Bool { changes.isEmpty }

    /// The entries that become refusals.
    public var newRefusals: [Change] { changes.filter { $0.kind == .nowRefused } }

    /// How many changes of each kind.
    public var counts: [ChangeKind: Int] {
        var counts: [ChangeKind: Int] = [:]
        for change in changes { counts[change.kind, default: 0] += 1 }
        return counts
    }

    /// One line per change (`SOURCE SERVICE/CLASS: KIND before -> after`), then a count by kind.
    public func render() -> String {
        if changes.isEmpty { return "no route changes" }
        var lines: [String] = []
        for change in changes {
            lines.append("\(change.source) \(change.service)/\(change.dataClass): \(Self.label(change.kind))")
            lines.append("    before: \(Self.summary(change.before))")
            lines.append("    after:  \(Self.summary(change.after))")
        }
        let counts = self.counts
        let totals = ChangeKind.allCases.compactMap { kind in counts[kind].map { "\($0) \(Self.label(kind))" } }
        lines.append("\(changes.count) route\(changes.count == 1 ? "" : "s") change: \(totals.joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }

    /// An entry in one line: `P0 a 0.600000, b 0.400000 | P1 c 1.000000`, or `refused 451: ...`.
    public static func summary(_ entry: RouteEntry?) -> String {
        guard let entry else { return "(no entry)" }
        if let refusal = entry.refusal { return "refused \(refusal.status): \(refusal.reason)" }
        return entry.levels.enumerated().map { index, level in
            "P\(index) " + level.destinations.map { "\($0.cluster) \(String(format: "%.6f", $0.weight))" }.joined(separator: ", ")
        }.joined(separator: " | ")
    }

    static func label(_ kind: ChangeKind) -> String {
        switch kind {
        case .added: return "added"
        case .removed: return "removed"
        case .changed: return "changed"
        case .nowRefused: return "becomes a refusal"
        case .noLongerRefused: return "no longer refused"
        }
    }

    static func key(_ entry: RouteEntry) -> String { entry.service + "\u{0}" + entry.dataClass }
}
