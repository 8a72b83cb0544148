import Foundation
import MeridianModel
import MeridianYAML
import Testing

/// The policy parser: the example documents parse, the semantics of `extends` and `rules` hold, and every kind of
/// mistake is refused with the line, the column and the path of the offending node.
@Suite("Policy documents")
struct PolicyDocumentTests {
    static let header = """
        apiVersion: meridian.dev/v1
        kind: ResidencyPolicy
        metadata:
          name: test

        """

    /// Parses a residency document made of the header (4 lines) and `body`, which thus starts on line 5.
    static func residency(_ body: String) throws(PolicyError) -> ResidencyPolicy {
        try PolicyDocument.residencyPolicy(yaml: header + body)
    }

    /// The error parsing `yaml` as either kind throws.
    static func error(_ yaml: String) -> PolicyError? {
        do {
            _ = try PolicyDocument.parse(yaml: yaml)
            return nil
        } catch {
            return error
        }
    }

    static func jurisdiction(_ country: String) -> Jurisdiction { JurisdictionCatalog.jurisdiction(of: country) }

    /// The repository's `policies/` folder, found above this file.
    static func examplesFolder() -> URL? {
        var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("policies/residency.yaml")
            if FileManager.default.fileExists(atPath: candidate.path) { return folder.appendingPathComponent("policies") }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }

    // MARK: - What parses

    @Test("the examples in policies/ parse")
    func examples() throws {
        let folder = try #require(Self.examplesFolder())
        let residency = try PolicyDocument.residencyPolicy(yaml: String(contentsOf: folder.appendingPathComponent("residency.yaml"), encoding: .utf8))
        #expect(residency.classes.keys.contains("eu-personal"))
        #expect(residency.permits(dataClass: "eu-personal", origin: Self.jurisdiction("DE"), destination: Self.jurisdiction("FR")))
        #expect(!residency.permits(dataClass: "eu-personal", origin: Self.jurisdiction("DE"), destination: Self.jurisdiction("US")))
        if residency.classes["eu-health"] != nil {
            #expect(!residency.permits(dataClass: "eu-health", origin: Self.jurisdiction("DE"), destination: Self.jurisdiction("SE")))
            #expect(residency.permits(dataClass: "eu-health", origin: Self.jurisdiction("DE"), destination: Self.jurisdiction("DE")))
        }
        let routing = try PolicyDocument.routingPreferences(yaml: String(contentsOf: folder.appendingPathComponent("routing.yaml"), encoding: .utf8))
        #expect(!routing.services.isEmpty)
        for file in ["residency.yaml", "routing.yaml"] {
            _ = try PolicyDocument.parse(yaml: String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8))
        }
    }

    @Test("a full residency document: classes, rules by origin, services, default class")
    func residencyDocument() throws {
        let policy = try Self.residency("""
            defaultClass: public
            dataClasses:
              public:
                description: Anything goes.
                allow: ["*"]
              eu-personal:
                allow: [EU]
              nordics:
                allow: [SE, NO, DK, FI, IS]
              origin-bound:
                rules:
                  - from: [EU]
                    allow: [EU]
                  - from: [US]
                    allow: [US]
                    deny: []
            services:
              chat:
                defaultClass: eu-personal
                allowedCallers: [fra, "*"]
              embed: {}
            """)
        #expect(policy.name == "test")
        #expect(policy.defaultClass == "public")
        #expect(policy.defaultClass(forService: "chat") == "eu-personal")
        #expect(policy.defaultClass(forService: "embed") == "public")
        #expect(policy.services["chat"]?.allowedCallers == ["*", "fra"])
        #expect(policy.services["embed"]?.allowedCallers == ["*"])
        // NO is Norway, not YAML's "false".
        #expect(policy.classes["nordics"]?.rules.first?.allow.countries.contains("NO") == true)
        let origin = policy.classes["origin-bound"]!
        #expect(origin.permits(origin: Self.jurisdiction("DE"), destination: Self.jurisdiction("FR")))
        #expect(!origin.permits(origin: Self.jurisdiction("DE"), destination: Self.jurisdiction("US")))
        #expect(origin.permits(origin: Self.jurisdiction("US"), destination: Self.jurisdiction("US")))
        #expect(!origin.permits(origin: Self.jurisdiction("IN"), destination: Self.jurisdiction("IN")))
        #expect(origin.rules.count == 2)
    }

    @Test("extends: own rules first, the parent's next; allow widens, deny narrows, a parent's deny stays")
    func extendsSemantics() throws {
        let policy = try Self.residency("""
            dataClasses:
              eu-personal:
                allow: [EU]
                deny: [HU]
              eu-health:
                extends: eu-personal
                deny: [SE]
              eu-plus-ch:
                extends: eu-personal
                allow: [CH, HU]
              eu-health-us-origin:
                extends: eu-health
                rules:
                  - from: [US]
                    allow: [US]
            """)
        let de = Self.jurisdiction("DE")
        func permits(_ name: String, _ origin: String, _ destination: String) -> Bool {
            policy.permits(dataClass: name, origin: Self.jurisdiction(origin), destination: Self.jurisdiction(destination))
        }
        #expect(permits("eu-personal", "DE", "FR") && !permits("eu-personal", "DE", "HU"))
        #expect(permits("eu-health", "DE", "FR") && !permits("eu-health", "DE", "SE") && !permits("eu-health", "DE", "HU"))
        #expect(permits("eu-plus-ch", "DE", "CH"))
        #expect(!permits("eu-plus-ch", "DE", "HU"), "a parent's deny wins over a child's allow")
        #expect(permits("eu-health-us-origin", "US", "US") && !permits("eu-health-us-origin", "US", "FR"))
        #expect(permits("eu-health-us-origin", "DE", "FR") && !permits("eu-health-us-origin", "DE", "SE"))
        #expect(!policy.permits(dataClass: "eu-health-us-origin", origin: de, destination: Self.jurisdiction("US")))
        #expect(policy.classes["eu-health-us-origin"]?.rules.count == 2)
    }

    @Test("routing preferences: services take the document's defaults field by field; null clears a limit")
    func routingDocument() throws {
        let preferences = try PolicyDocument.routingPreferences(yaml: """
            apiVersion: meridian.dev/v1
            kind: RoutingPreferences
            defaults:
              objective: latency
              timeoutSeconds: 600
              saturation: {queueDepth: 32}
            services:
              batch:
                objective: cost
                priceCeilingPerGPUHour: 2
                saturation: {gpuUtilization: null}
              chat:
                latencySLOMs: 150
            """)
        #expect(preferences.defaults.objective == .latency)
        #expect(preferences.defaults.saturation.queueDepth == 32)
        #expect(preferences.defaults.saturation.kvCacheUtilization == 0.95)
        let batch = preferences.preference(for: "batch")
        #expect(batch.objective == .cost && batch.priceCeilingPerGPUHour == 2 && batch.timeoutSeconds == 600)
        #expect(batch.saturation.queueDepth == 32 && batch.saturation.gpuUtilization == nil)
        #expect(preferences.preference(for: "chat").objective == .latency)
        #expect(preferences.preference(for: "chat").latencySLOMs == 150)
        #expect(preferences.preference(for: "other") == preferences.defaults)
        guard case .routing(let parsed) = try PolicyDocument.parse(yaml: """
            apiVersion: meridian.dev/v1
            kind: RoutingPreferences
            metadata: {name: prefs}
            """) else { Issue.record("not routing"); return }
        #expect(parsed == RoutingPreferences())
    }

    // MARK: - What is refused, and where

    struct Refusal: Sendable, CustomTestStringConvertible {
        var name: String
        var body: String
        var kind: PolicyError.Kind
        var line: Int
        var field: String
        var message: String
        var testDescription: String { name }
    }

    /// Each mistake, its kind, its line (the body starts on line 5), its path and a phrase of its message.
    static let refusals: [Refusal] = [
        Refusal(name: "unknown jurisdiction", body: "dataClasses:\n  eu-personal:\n    allow: [DE, UK]\n",
                kind: .unknownJurisdiction, line: 7, field: "dataClasses.eu-personal.allow[1]", message: "'GB'"),
        Refusal(name: "lowercase jurisdiction", body: "dataClasses:\n  a:\n    allow: [de]\n",
                kind: .unknownJurisdiction, line: 7, field: "dataClasses.a.allow[0]", message: "did you mean 'DE'"),
        Refusal(name: "unknown class in extends", body: "dataClasses:\n  a:\n    allow: [EU]\n  b:\n    extends: aa\n",
                kind: .unknownClass, line: 9, field: "dataClasses.b.extends", message: "did you mean 'a'"),
        Refusal(name: "unknown class in a service", body: "dataClasses:\n  a:\n    allow: [EU]\nservices:\n  chat:\n    defaultClass: b\n",
                kind: .unknownClass, line: 10, field: "services.chat.defaultClass", message: "'b' is not a data class"),
        Refusal(name: "unknown default class", body: "defaultClass: public\ndataClasses:\n  a:\n    allow: [EU]\n",
                kind: .unknownClass, line: 5, field: "defaultClass", message: "'public'"),
        Refusal(name: "extends cycle", body: "dataClasses:\n  a:\n    extends: b\n  b:\n    extends: a\n",
                kind: .extendsCycle, line: 9, field: "dataClasses.b.extends", message: "a -> b -> a"),
        Refusal(name: "extends itself", body: "dataClasses:\n  a:\n    allow: [EU]\n    extends: a\n",
                kind: .extendsCycle, line: 8, field: "dataClasses.a.extends", message: "a -> a"),
        Refusal(name: "contradiction", body: "dataClasses:\n  ok:\n    allow: [EU]\n  a:\n    allow: [DE, FR]\n    deny: [EU]\n",
                kind: .contradiction, line: 8, field: "dataClasses.a", message: "allows nowhere"),
        Refusal(name: "a class with no allow", body: "dataClasses:\n  a:\n    description: nothing\n",
                kind: .contradiction, line: 6, field: "dataClasses.a", message: "no 'allow'"),
        Refusal(name: "a rule cancelled by deny", body: "dataClasses:\n  a:\n    allow: [EU]\n    rules:\n      - from: [US]\n        allow: [US]\n        deny: [FIVE_EYES]\n",
                kind: .contradiction, line: 9, field: "dataClasses.a.rules[0]", message: "this rule allows nowhere"),
        Refusal(name: "unknown key", body: "dataClasses:\n  a:\n    alow: [EU]\n",
                kind: .unknownKey, line: 7, field: "dataClasses.a.alow", message: "did you mean 'allow'"),
        Refusal(name: "unknown top-level key", body: "dataClasses:\n  a:\n    allow: [EU]\nservice: {}\n",
                kind: .unknownKey, line: 8, field: "service", message: "did you mean 'services'"),
        Refusal(name: "wrong type", body: "dataClasses:\n  a:\n    allow: EU\n",
                kind: .wrongType, line: 7, field: "dataClasses.a.allow", message: "must be a list"),
        Refusal(name: "class name not a DNS label", body: "dataClasses:\n  EU_Personal:\n    allow: [EU]\n",
                kind: .invalidName, line: 6, field: "dataClasses.EU_Personal", message: "not a DNS label"),
        Refusal(name: "caller not a DNS label", body: "dataClasses:\n  a:\n    allow: [EU]\nservices:\n  chat:\n    allowedCallers: [Fra]\n",
                kind: .invalidName, line: 10, field: "services.chat.allowedCallers[0]", message: "cluster name"),
        Refusal(name: "missing dataClasses", body: "services: {}\n",
                kind: .missingKey, line: 1, field: "dataClasses", message: "required"),
        Refusal(name: "rule without from", body: "dataClasses:\n  a:\n    rules:\n      - allow: [EU]\n",
                kind: .missingKey, line: 8, field: "dataClasses.a.rules[0].from", message: "required"),
        Refusal(name: "duplicated key", body: "dataClasses:\n  a:\n    allow: [EU]\n  a:\n    allow: [US]\n",
                kind: .syntax, line: 6, field: "", message: "duplicated key 'a'"),
        Refusal(name: "not YAML", body: "dataClasses:\n  a:\n    allow: [EU\n",
                kind: .syntax, line: 8, field: "", message: "invalid YAML"),
    ]

    @Test("a mistake refuses the whole document, pointing at its line and path", arguments: refusals)
    func refused(_ refusal: Refusal) throws {
        let error = try #require(Self.error(Self.header + refusal.body))
        #expect(error.kind == refusal.kind, "\(error)")
        #expect(error.line == refusal.line, "\(error)")
        #expect(error.field == refusal.field, "\(error)")
        #expect(error.message.contains(refusal.message), "\(error)")
        #expect(error.column >= 1)
    }

    @Test("wrong apiVersion, wrong kind, empty document, routing values out of range")
    func headerAndRoutingErrors() throws {
        let version = try #require(Self.error("apiVersion: meridian.dev/v2\nkind: ResidencyPolicy\n"))
        #expect(version.kind == .wrongAPIVersion && version.line == 1 && version.field == "apiVersion")
        let kind = try #require(Self.error("apiVersion: meridian.dev/v1\nkind: Residency\n"))
        #expect(kind.kind == .wrongKind && kind.line == 2)
        do {
            _ = try PolicyDocument.routingPreferences(yaml: Self.header)
            Issue.record("a residency document read as routing preferences")
        } catch {
            #expect(error.kind == .wrongKind && error.line == 2)
        }
        #expect(Self.error("")?.kind == .syntax)
        #expect(Self.error("- a\n- b\n")?.kind == .wrongType)
        let routing = "apiVersion: meridian.dev/v1\nkind: RoutingPreferences\nservices:\n  chat:\n"
        let kv = try #require(Self.error(routing + "    saturation: {kvCacheUtilization: 1.5}\n"))
        #expect(kv.kind == .invalidValue && kv.line == 5 && kv.field == "services.chat.saturation.kvCacheUtilization")
        let objective = try #require(Self.error(routing + "    objective: fast\n"))
        #expect(objective.kind == .invalidValue && objective.message.contains("latency, cost, balanced"))
        let text = try #require(Self.error(routing + "    latencySLOMs: \"150\"\n"))
        #expect(text.kind == .wrongType && text.message.contains("a number"))
        let name = try #require(Self.error(routing.replacingOccurrences(of: "chat", with: "Chat")))
        #expect(name.kind == .invalidName && name.line == 4)
    }

    @Test("the API error: 400 invalid_policy, the path as field, the line in the message")
    func apiError() throws {
        let error = try #require(Self.error(Self.header + "dataClasses:\n  a:\n    allow: [XX]\n"))
        let api = error.asAPIError()
        #expect(api.status == 400)
        #expect(api.code == .invalidPolicy)
        #expect(api.field == "dataClasses.a.allow[0]")
        #expect(api.message.contains("line 7"))
        #expect(error.description.hasPrefix("line 7, column 13: dataClasses.a.allow[0]: unknown jurisdiction 'XX'"))
        #expect(PolicyError(kind: .syntax, line: 1, column: 1, field: "", message: "x").asAPIError().field == nil)
    }

    @Test("the jurisdiction catalog: 249 countries, blocs with their members")
    func catalog() {
        #expect(JurisdictionCatalog.countries.count == 249)
        #expect(JurisdictionCatalog.europeanUnion.count == 27)
        #expect(JurisdictionCatalog.blocs(of: "NO") == ["EEA", "EFTA"])
        #expect(JurisdictionCatalog.blocs(of: "AU") == ["APAC", "FIVE_EYES"])
        #expect(JurisdictionCatalog.isKnown("*") && JurisdictionCatalog.isKnown("EU") && !JurisdictionCatalog.isKnown("UK"))
    }
}
