import MeridianModel

/// Reads a `kind: ResidencyPolicy` document (already checked for apiVersion and kind) into a compiled
/// ``ResidencyPolicy``: jurisdictions checked, `extends` resolved, contradictions refused.
///
/// Compilation of a class `C` (see `docs/policy.md`):
/// ```
/// rules(C) = [r with deny ∪ C.deny        for r in C.rules]                 // own rules first
///          + [r with allow ∪ C.allow, deny ∪ C.deny  for r in base(C)]       // then the inherited ones
/// base(C)  = rules(P) if C extends P, else [{from: *, allow: nothing}]
/// ```
/// A class's `allow` therefore widens every inherited rule (for a class without a parent it is simply the rule
/// for every origin), its `deny` narrows every rule, own and inherited, and a deny always wins over an allow.
struct ResidencyPolicyParser {
    let top: PolicyMapping

    static let topKeys = ["apiVersion", "kind", "metadata", "defaultClass", "dataClasses", "services"]
    static let classKeys = ["description", "extends", "allow", "deny", "rules"]
    static let ruleKeys = ["from", "allow", "deny"]
    static let serviceKeys = ["defaultClass", "allowedCallers"]

    /// One data class as written.
    struct ClassSpec {
        var name: String
        var keyNode: PolicyNode
        var description: String?
        var allow: JurisdictionSet
        var deny: JurisdictionSet
        var extends: (name: String, node: PolicyNode)?
        var rules: [ResidencyRule]
        /// The node of each rule, for errors.
        var ruleNodes: [PolicyNode]
    }

    func parse() throws(PolicyError) -> ResidencyPolicy {
        try top.checkKeys(Self.topKeys)
        let name = try PolicyDocument.metadataName(top)

        let classesNode = try top.required("dataClasses")
        let classEntries = try classesNode.mapping(expected: "a mapping of class names to classes").entries
        guard !classEntries.isEmpty else {
            throw classesNode.error(.invalidValue, "'dataClasses' must define at least one class, for example 'public: {allow: [\"*\"]}'")
        }
        var specs: [ClassSpec] = []
        for entry in classEntries {
            specs.append(try parseClass(entry))
        }
        let classes = try compile(specs)

        var defaultClass: String?
        if let node = top.value("defaultClass"), !node.isNull {
            defaultClass = try classReference(node, classes: classes)
        }

        var services: [String: ServicePolicy] = [:]
        if let servicesNode = top.value("services") {
            for entry in try servicesNode.mapping(nullIsEmpty: true, expected: "a mapping of service names to service policies").entries {
                try entry.keyNode.dnsLabel(entry.key, what: "service name")
                services[entry.key] = try parseService(entry.value, classes: classes)
            }
        }
        return ResidencyPolicy(name: name, classes: classes, services: services, defaultClass: defaultClass)
    }

    // MARK: - Classes

    func parseClass(_ entry: PolicyMapping.Entry) throws(PolicyError) -> ClassSpec {
        try entry.keyNode.dnsLabel(entry.key, what: "data class name")
        let body = try entry.value.mapping(expected: "a data class: a mapping with allow, deny, extends, rules and description")
        try body.checkKeys(Self.classKeys)
        var spec = ClassSpec(name: entry.key, keyNode: entry.keyNode, description: nil, allow: .nowhere, deny: .nowhere,
                             extends: nil, rules: [], ruleNodes: [])
        if let node = body.value("description") { spec.description = try node.string() }
        if let node = body.value("allow") { spec.allow = try jurisdictions(node) }
        if let node = body.value("deny") { spec.deny = try jurisdictions(node) }
        if let node = body.value("extends") {
            let parent = try node.string(expected: "the name of another data class")
            spec.extends = (parent, node)
        }
        if let node = body.value("rules") {
            for ruleNode in try node.list(expected: "a list of rules, each {from: [...], allow: [...], deny: [...]}") {
                let rule = try ruleNode.mapping(expected: "a rule: a mapping with from, allow and deny")
                try rule.checkKeys(Self.ruleKeys)
                let fromNode = try rule.required("from")
                let from = try jurisdictions(fromNode)
                guard !from.isEmpty else {
                    throw fromNode.error(.invalidValue, "'from' must name at least one jurisdiction; write ['*'] for data from anywhere")
                }
                let allow = try jurisdictions(try rule.required("allow"))
                var deny = JurisdictionSet.nowhere
                if let denyNode = rule.value("deny") { deny = try jurisdictions(denyNode) }
                spec.rules.append(ResidencyRule(from: from, allow: allow, deny: deny))
                spec.ruleNodes.append(ruleNode)
            }
        }
        return spec
    }

    /// A list of jurisdictions: ISO 3166-1 alpha-2 countries, blocs, or `*`.
    func jurisdictions(_ node: PolicyNode) throws(PolicyError) -> JurisdictionSet {
        let items = try node.list(expected: "a list of jurisdictions such as [DE, FR, EU] or ['*']")
        var any = false
        var countries: [String] = []
        var blocs: [String] = []
        for item in items {
            let name = try item.string(expected: "a jurisdiction (a country code such as DE, a bloc such as EU, or '*')")
            if name == JurisdictionCatalog.wildcard {
                any = true
            } else if JurisdictionCatalog.blocMembers[name] != nil {
                blocs.append(name)
            } else if JurisdictionCatalog.countries.contains(name) {
                countries.append(name)
            } else {
                var message = "unknown jurisdiction '\(name)': use an ISO 3166-1 alpha-2 country code (DE, US, ...), a bloc (\(JurisdictionCatalog.blocs.joined(separator: ", "))) or '*'"
                if let hint = JurisdictionCatalog.suggestion(for: name) { message += "; \(hint)" }
                throw item.error(.unknownJurisdiction, message)
            }
        }
        return JurisdictionSet(any: any, countries: countries, blocs: blocs)
    }

    /// Resolves `extends` in document order, refusing unknown parents, cycles and classes that allow nowhere.
    func compile(_ specs: [ClassSpec]) throws(PolicyError) -> [String: DataClassPolicy] {
        var byName: [String: ClassSpec] = [:]
        for spec in specs { byName[spec.name] = spec }
        var resolved: [String: [ResidencyRule]] = [:]

        func rules(of name: String, chain: [String]) throws(PolicyError) -> [ResidencyRule] {
            if let done = resolved[name] { return done }
            guard let spec = byName[name] else { return [] }
            var base = [ResidencyRule(from: .everywhere, allow: .nowhere)]
            if let extends = spec.extends {
                let parent = extends.name, node = extends.node
                guard byName[parent] != nil else {
                    var message = "'\(name)' extends '\(parent)', which is not a data class of this document; defined: \(byName.keys.sorted().joined(separator: ", "))"
                    if let closest = closestName(parent, in: Array(byName.keys)) { message += "; did you mean '\(closest)'?" }
                    throw node.error(.unknownClass, message)
                }
                if let start = chain.firstIndex(of: parent) ?? (parent == name ? chain.count : nil) {
                    let cycle = (chain[start...] + [name, parent]).joined(separator: " -> ")
                    throw node.error(.extendsCycle, "'extends' goes round in a circle: \(cycle); one class of the circle must not extend another")
                }
                base = try rules(of: parent, chain: chain + [name])
            }
            let own = spec.rules.map { ResidencyRule(from: $0.from, allow: $0.allow, deny: $0.deny.union(spec.deny)) }
            let inherited = base.map { ResidencyRule(from: $0.from, allow: $0.allow.union(spec.allow), deny: $0.deny.union(spec.deny)) }
            let all = own + inherited
            resolved[name] = all
            return all
        }

        var classes: [String: DataClassPolicy] = [:]
        for spec in specs {
            let all = try rules(of: spec.name, chain: [])
            // A rule written in this class whose allow is not empty but entirely denied is a contradiction too
            // (to send data of an origin nowhere, write 'allow: []').
            for (offset, rule) in all.prefix(spec.rules.count).enumerated() where !rule.allow.isEmpty && !Self.allowsSomewhere(rule) {
                let node = spec.ruleNodes[offset]
                throw node.error(.contradiction, "this rule allows nowhere: allow [\(rule.allow)] is entirely cancelled by deny [\(rule.deny)] (the rule's deny and the class's); narrow 'deny', widen 'allow', or write 'allow: []' to send this origin's data nowhere")
            }
            guard all.contains(where: Self.allowsSomewhere) else {
                throw spec.keyNode.error(.contradiction, contradictionMessage(spec, all))
            }
            // A trailing rule that allows nothing is the same as no rule: drop it to keep explanations short.
            var compiled = all
            while let last = compiled.last, !Self.allowsSomewhere(last) { compiled.removeLast() }
            classes[spec.name] = DataClassPolicy(name: spec.name, description: spec.description, rules: compiled)
        }
        return classes
    }

    /// Whether a rule permits at least one country of the catalog.
    static func allowsSomewhere(_ rule: ResidencyRule) -> Bool {
        if rule.allow.isEmpty || rule.deny.any { return false }
        return JurisdictionCatalog.countries.contains { rule.permits(JurisdictionCatalog.jurisdiction(of: $0)) }
    }

    func contradictionMessage(_ spec: ClassSpec, _ rules: [ResidencyRule]) -> String {
        let written = rules.filter { !$0.allow.isEmpty }
        if written.isEmpty {
            return "data class '\(spec.name)' allows nowhere: it has no 'allow', no rule with an 'allow', and no parent that allows anything; add for example 'allow: [EU]'"
        }
        let first = written[0]
        return "data class '\(spec.name)' allows nowhere: every rule's allow is cancelled by its deny (for example allow [\(first.allow)] with deny [\(first.deny)]); narrow 'deny' or widen 'allow'"
    }

    func classReference(_ node: PolicyNode, classes: [String: DataClassPolicy]) throws(PolicyError) -> String {
        let name = try node.string(expected: "the name of a data class")
        guard classes[name] != nil else {
            var message = "'\(name)' is not a data class of this document; defined: \(classes.keys.sorted().joined(separator: ", "))"
            if let closest = closestName(name, in: Array(classes.keys)) { message += "; did you mean '\(closest)'?" }
            throw node.error(.unknownClass, message)
        }
        return name
    }

    // MARK: - Services

    func parseService(_ node: PolicyNode, classes: [String: DataClassPolicy]) throws(PolicyError) -> ServicePolicy {
        let body = try node.mapping(nullIsEmpty: true, expected: "a service policy: a mapping with defaultClass and allowedCallers")
        try body.checkKeys(Self.serviceKeys)
        var policy = ServicePolicy()
        if let node = body.value("defaultClass"), !node.isNull {
            policy.defaultClass = try classReference(node, classes: classes)
        }
        if let node = body.value("allowedCallers") {
            var callers: [String] = []
            for item in try node.list(expected: "a list of cluster names, or ['*'] for every cluster") {
                let caller = try item.string(expected: "a cluster name or '*'")
                if caller != "*" { try item.dnsLabel(caller, what: "cluster name") }
                callers.append(caller)
            }
            policy.allowedCallers = Array(Set(callers)).sorted()
        }
        return policy
    }

    func closestName(_ name: String, in names: [String]) -> String? {
        guard let closest = names.sorted().min(by: { editDistance($0, name) < editDistance($1, name) }),
              editDistance(closest, name) <= 2 else { return nil }
        return closest
    }
}
