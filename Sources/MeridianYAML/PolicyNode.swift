import MeridianModel
import Yams

/// A YAML node of a policy document with its dotted path; its typed accessors throw ``PolicyError``s that point
/// at the node's line and column.
struct PolicyNode {
    let node: Node
    let path: String

    var line: Int { node.mark?.line ?? 1 }
    var column: Int { node.mark?.column ?? 1 }

    func error(_ kind: PolicyError.Kind, _ message: String) -> PolicyError {
        PolicyError(kind: kind, line: line, column: column, field: path, message: message)
    }

    /// A plain scalar that YAML reads as null: `~`, `null` or nothing at all.
    var isNull: Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return Resolver.default.resolveTag(of: node) == .null
    }

    /// What the node is, in words, for messages.
    var typeDescription: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if isNull { return "nothing (null)" }
            return "'\(scalar.string)'"
        }
    }

    func wrongType(_ expected: String) -> PolicyError {
        let name = path.isEmpty ? "the document" : "'\(path)'"
        return error(.wrongType, "\(name) must be \(expected), got \(typeDescription)")
    }

    /// The node as a mapping. A null is read as an empty mapping when `nullIsEmpty`.
    func mapping(nullIsEmpty: Bool = false, expected: String = "a mapping of keys to values") throws(PolicyError) -> PolicyMapping {
        if nullIsEmpty, isNull { return PolicyMapping(owner: self, entries: []) }
        guard case .mapping(let mapping) = node else { throw wrongType(expected) }
        var entries: [PolicyMapping.Entry] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                throw PolicyNode(node: key, path: path).error(.wrongType, "keys must be plain names, not \(PolicyNode(node: key, path: path).typeDescription)")
            }
            let childPath = path.isEmpty ? scalar.string : "\(path).\(scalar.string)"
            entries.append(.init(key: scalar.string, keyNode: PolicyNode(node: key, path: childPath),
                                 value: PolicyNode(node: value, path: childPath)))
        }
        return PolicyMapping(owner: self, entries: entries)
    }

    /// The node as a list of nodes (paths `path[i]`).
    func list(expected: String) throws(PolicyError) -> [PolicyNode] {
        guard case .sequence(let sequence) = node else { throw wrongType(expected) }
        return sequence.enumerated().map { PolicyNode(node: $0.element, path: "\(path)[\($0.offset)]") }
    }

    /// The node as text: any non-null scalar, read verbatim (so `NO`, Norway, stays `NO`, not `false`).
    func string(expected: String = "text") throws(PolicyError) -> String {
        guard case .scalar(let scalar) = node, !isNull else { throw wrongType(expected) }
        return scalar.string
    }

    /// The node as a number (a YAML int or float, not quoted text).
    func number() throws(PolicyError) -> Double {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { throw wrongType("a number") }
        let tag = Resolver.default.resolveTag(of: node)
        guard tag == .int || tag == .float, let value = node.float, value.isFinite else { throw wrongType("a number") }
        return value
    }

    /// A number that must satisfy `condition` (`what` completes "must be ...").
    func number(_ what: String, where condition: (Double) -> Bool) throws(PolicyError) -> Double {
        let value = try number()
        guard condition(value) else { throw error(.invalidValue, "'\(path)' must be \(what), got \(PolicyNode.format(value))") }
        return value
    }

    /// A DNS label (RFC 1123): what class, service, caller and policy names must be.
    func dnsLabel(_ value: String, what: String) throws(PolicyError) {
        do {
            try Validate.dnsLabel(value, field: path)
        } catch {
            throw self.error(.invalidName, "\(what) '\(value)' is not a DNS label: use 1-63 lowercase letters, digits and '-', not starting or ending with '-' (for example 'eu-personal')")
        }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// The entries of a YAML mapping, in document order.
struct PolicyMapping {
    struct Entry {
        let key: String
        let keyNode: PolicyNode
        let value: PolicyNode
    }

    let owner: PolicyNode
    let entries: [Entry]

    /// Refuses keys outside `allowed`, suggesting the closest one.
    func checkKeys(_ allowed: [String]) throws(PolicyError) {
        for entry in entries where !allowed.contains(entry.key) {
            let place = owner.path.isEmpty ? "at the top level" : "in '\(owner.path)'"
            var message = "unknown key '\(entry.key)' \(place); expected one of: \(allowed.joined(separator: ", "))"
            if let closest = allowed.min(by: { editDistance($0, entry.key) < editDistance($1, entry.key) }),
               editDistance(closest, entry.key) <= 2 {
                message += "; did you mean '\(closest)'?"
            }
            throw entry.keyNode.error(.unknownKey, message)
        }
    }

    func value(_ key: String) -> PolicyNode? { entries.first { $0.key == key }?.value }

    func required(_ key: String) throws(PolicyError) -> PolicyNode {
        guard let value = value(key) else {
            let name = owner.path.isEmpty ? key : "\(owner.path).\(key)"
            throw PolicyError(kind: .missingKey, line: owner.line, column: owner.column, field: name,
                              message: "'\(name)' is required")
        }
        return value
    }
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
