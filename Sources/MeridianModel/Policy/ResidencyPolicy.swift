/// A set of jurisdictions: countries, blocs, or everywhere (`*`).
public struct JurisdictionSet: Codable, Sendable, Hashable, CustomStringConvertible {
    public var any: Bool
    /// ISO 3166-1 alpha-2 codes, sorted.
    public var countries: [String]
    /// Bloc names, sorted.
    public var blocs: [String]

    public init(any: Bool = false, countries: [String] = [], blocs: [String] = []) {
        self.any = any
        self.countries = Array(Set(countries)).sorted()
        self.blocs = Array(Set(blocs)).sorted()
    }

    public static let everywhere = JurisdictionSet(any: true)
    public static let nowhere = JurisdictionSet()

    public var isEmpty: Bool { !any && countries.isEmpty && blocs.isEmpty }

    public func contains(_ jurisdiction: Jurisdiction) -> Bool {
        if any { return true }
        if countries.contains(jurisdiction.country) { return true }
        return jurisdiction.blocs.contains { blocs.contains($0) }
    }

    public func union(_ other: JurisdictionSet) -> JurisdictionSet {
        JurisdictionSet(any: any || other.any, countries: countries + other.countries, blocs: blocs + other.blocs)
    }

    public var description: String {
        if any { return "*" }
        return (blocs + countries).joined(separator: ", ")
    }
}

/// One origin-dependent rule of a data class: data that comes `from` a jurisdiction may be processed where `allow`
/// holds and `deny` does not (deny wins).
public struct ResidencyRule: Codable, Sendable, Hashable {
    public var from: JurisdictionSet
    public var allow: JurisdictionSet
    public var deny: JurisdictionSet

    public init(from: JurisdictionSet = .everywhere, allow: JurisdictionSet, deny: JurisdictionSet = .nowhere) {
        self.from = from
        self.allow = allow
        self.deny = deny
    }

    public func permits(_ destination: Jurisdiction) -> Bool {
        allow.contains(destination) && !deny.contains(destination)
    }
}

/// A data class, compiled: `extends` resolved, rules in order (the first whose `from` matches the origin applies;
/// no match means nowhere).
public struct DataClassPolicy: Codable, Sendable, Hashable {
    public var name: String
    public var description: String?
    public var rules: [ResidencyRule]

    public init(name: String, description: String? = nil, rules: [ResidencyRule]) {
        self.name = name
        self.description = description
        self.rules = rules
    }

    /// The rule that applies to data from `origin`, if any.
    public func rule(forOrigin origin: Jurisdiction) -> ResidencyRule? {
        rules.first { $0.from.contains(origin) }
    }

    public func permits(origin: Jurisdiction, destination: Jurisdiction) -> Bool {
        // Read in place: `rule(forOrigin:)` returns a copy of the rule (and of its sets), on every request.
        guard let index = rules.firstIndex(where: { $0.from.contains(origin) }) else { return false }
        return rules[index].permits(destination)
    }
}

/// Per-service policy: its default class and which clusters may call it (`*` for all).
public struct ServicePolicy: Codable, Sendable, Hashable {
    public var defaultClass: String?
    public var allowedCallers: [String]

    public init(defaultClass: String? = nil, allowedCallers: [String] = ["*"]) {
        self.defaultClass = defaultClass
        self.allowedCallers = allowedCallers
    }
}

/// A compiled residency policy: what the router and both gateways enforce.
public struct ResidencyPolicy: Codable, Sendable, Hashable {
    public var name: String
    public var classes: [String: DataClassPolicy]
    public var services: [String: ServicePolicy]
    /// Class of a request whose service names none; nil means such requests are refused.
    public var defaultClass: String?

    public init(name: String = "default", classes: [String: DataClassPolicy], services: [String: ServicePolicy] = [:], defaultClass: String? = nil) {
        self.name = name
        self.classes = classes
        self.services = services
        self.defaultClass = defaultClass
    }

    /// A policy with one class, `public`, allowed everywhere: what a hub starts with.
    public static let permissive = ResidencyPolicy(
        name: "builtin-permissive",
        classes: ["public": DataClassPolicy(name: "public", description: "Allowed everywhere", rules: [ResidencyRule(allow: .everywhere)])],
        defaultClass: "public"
    )

    /// May data of `dataClass` that originates in `origin` be processed in `destination`? Unknown classes: no.
    public func permits(dataClass: String, origin: Jurisdiction, destination: Jurisdiction) -> Bool {
        classes[dataClass]?.permits(origin: origin, destination: destination) ?? false
    }

    /// The class a request to `service` carries when it names none.
    public func defaultClass(forService service: String) -> String? {
        services[service]?.defaultClass ?? defaultClass
    }

    /// May a gateway of `caller` call `service`?
    public func allowsCaller(_ caller: String, service: String) -> Bool {
        guard let policy = services[service] else { return true }
        return policy.allowedCallers.contains("*") || policy.allowedCallers.contains(caller)
    }
}
