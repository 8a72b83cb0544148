import MeridianModel
import Yams

/// A policy document in YAML, as applied with `meridian policy apply -f`: a residency policy
/// (`kind: ResidencyPolicy`) or routing preferences (`kind: RoutingPreferences`), both with
/// `apiVersion: meridian.dev/v1` and `metadata.name`.
///
/// Parsing is all or nothing: the first mistake refuses the whole document with a ``PolicyError`` that
/// names the line, the column and the dotted path of the offending node, and says what to fix.
/// The format and the semantics of `extends` are documented in `docs/policy.md`.
public enum PolicyDocument: Sendable, Hashable {
    case residency(ResidencyPolicy)
    case routing(RoutingPreferences)

    /// The only `apiVersion` this build reads.
    public static let apiVersion = "meridian.dev/v1"
    /// `kind` of a residency policy document.
    public static let residencyKind = "ResidencyPolicy"
    /// `kind` of a routing preferences document.
    public static let routingKind = "RoutingPreferences"

    /// Parses either kind of document, chosen by its `kind`.
    public static func parse(yaml: String) throws(PolicyError) -> PolicyDocument {
        let root = try compose(yaml)
        let top = try root.mapping(expected: "a mapping with apiVersion, kind, metadata, ...")
        try checkAPIVersion(top)
        let kindNode = try top.required("kind")
        let kind = try kindNode.string()
        switch kind {
        case residencyKind: return .residency(try ResidencyPolicyParser(top: top).parse())
        case routingKind: return .routing(try RoutingPreferencesParser(top: top).parse())
        default:
            throw kindNode.error(.wrongKind, "unknown kind '\(kind)'; a policy document is '\(residencyKind)' or '\(routingKind)'")
        }
    }

    /// Parses a `kind: ResidencyPolicy` document into the compiled policy the router and the gateways enforce.
    public static func residencyPolicy(yaml: String) throws(PolicyError) -> ResidencyPolicy {
        let top = try compose(yaml).mapping(expected: "a mapping with apiVersion, kind, metadata, dataClasses, ...")
        try checkAPIVersion(top)
        try checkKind(top, residencyKind)
        return try ResidencyPolicyParser(top: top).parse()
    }

    /// Parses a `kind: RoutingPreferences` document; each service's unset fields take the document's `defaults`.
    public static func routingPreferences(yaml: String) throws(PolicyError) -> RoutingPreferences {
        let top = try compose(yaml).mapping(expected: "a mapping with apiVersion, kind, metadata, defaults, services")
        try checkAPIVersion(top)
        try checkKind(top, routingKind)
        return try RoutingPreferencesParser(top: top).parse()
    }

    // MARK: - Shared by both kinds

    static func compose(_ yaml: String) throws(PolicyError) -> PolicyNode {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw syntaxError(error)
        } catch {
            throw PolicyError(kind: .syntax, line: 1, column: 1, field: "", message: "not a YAML document: \(error)")
        }
        guard let node else {
            throw PolicyError(kind: .syntax, line: 1, column: 1, field: "", message: "the document is empty; start with 'apiVersion: \(apiVersion)'")
        }
        return PolicyNode(node: node, path: "")
    }

    static func syntaxError(_ error: YamlError) -> PolicyError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var message = "invalid YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line))" }
            return PolicyError(kind: .syntax, line: mark.line, column: mark.column, field: "", message: message)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return PolicyError(kind: .syntax, line: context.mark.line, column: context.mark.column, field: "",
                               message: "duplicated key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in one mapping; each key may appear once")
        default:
            return PolicyError(kind: .syntax, line: 1, column: 1, field: "", message: "not a YAML document: \(error)")
        }
    }

    static func checkAPIVersion(_ top: PolicyMapping) throws(PolicyError) {
        let node = try top.required("apiVersion")
        let version = try node.string()
        guard version == apiVersion else {
            throw node.error(.wrongAPIVersion, "unsupported apiVersion '\(version)'; write 'apiVersion: \(apiVersion)'")
        }
    }

    static func checkKind(_ top: PolicyMapping, _ expected: String) throws(PolicyError) {
        let node = try top.required("kind")
        let kind = try node.string()
        guard kind == expected else {
            throw node.error(.wrongKind, "this document is a '\(kind)', but a '\(expected)' is expected here; write 'kind: \(expected)'")
        }
    }

    /// `metadata: {name, description?, labels?}`; returns the name.
    static func metadataName(_ top: PolicyMapping) throws(PolicyError) -> String {
        let metadata = try top.required("metadata").mapping()
        try metadata.checkKeys(["name", "description", "labels"])
        let nameNode = try metadata.required("name")
        let name = try nameNode.string()
        try nameNode.dnsLabel(name, what: "policy name")
        if let description = metadata.value("description") { _ = try description.string() }
        if let labels = metadata.value("labels") {
            for entry in try labels.mapping(nullIsEmpty: true).entries { _ = try entry.value.string() }
        }
        return name
    }
}
