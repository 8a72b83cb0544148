import ArgumentParser
import Foundation
import MeridianClient
import MeridianModel
import NIOHTTP1

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster", abstract: "Register, list, show and remove clusters.",
                                                    subcommands: [Register.self, List.self, Show.self, Remove.self, JoinToken.self])

    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a cluster.")
        @OptionGroup var hub: HubOptions
        @Argument(help: "Cluster name (a DNS label)") var name: String
        @Option(help: "Region id from the catalog, e.g. aws-eu-central-1") var region: String
        @Option(help: "Gateway tunnel address HOST:PORT") var gateway: String
        @Option(name: .customLong("label"), help: "KEY=VALUE (repeatable)") var labels: [String] = []

        func run() async throws {
            try await reportingFailures {
                var map: [String: String] = [:]
                for label in labels {
                    let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { throw ValidationError("--label must be KEY=VALUE, got '\(label)'") }
                    map[parts[0]] = parts[1]
                }
                let cluster = try await hub.client().registerCluster(ClusterRegistration(name: name, region: region, gatewayAddress: gateway, labels: map))
                if hub.output == .json { try Printer.json(cluster) } else { print("registered cluster \(cluster.name) in \(cluster.region) (\(cluster.jurisdiction))") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clusters.")
        @OptionGroup var hub: HubOptions
        @Option var region: String?
        @Option var provider: String?
        @Option(help: "Country code or bloc, e.g. DE or EU") var jurisdiction: String?
        @Option(help: "KEY=VALUE") var label: String?
        @Option var status: String?

        func run() async throws {
            try await reportingFailures {
                let client = try hub.client()
                var all: [Cluster] = []
                var cursor: String? = nil
                repeat {
                    let page = try await client.clusters(region: region, provider: provider, jurisdiction: jurisdiction, label: label, status: status, cursor: cursor)
                    all += page.items
                    cursor = page.nextCursor
                } while cursor != nil
                if hub.output == .json { try Printer.json(all); return }
                Printer.table(["NAME", "REGION", "JURISDICTION", "STATUS", "GATEWAY", "LABELS"], all.map {
                    [$0.name, $0.region, $0.jurisdiction.description, $0.status.rawValue, $0.gatewayAddress,
                     $0.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")]
                })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a cluster.")
        @OptionGroup var hub: HubOptions
        @Argument var name: String
        func run() async throws {
            try await reportingFailures {
                let cluster = try await hub.client().cluster(name)
                if hub.output == .json { try Printer.json(cluster); return }
                Printer.table(["FIELD", "VALUE"], [
                    ["name", cluster.name], ["region", cluster.region], ["provider", cluster.provider],
                    ["jurisdiction", cluster.jurisdiction.description], ["status", cluster.status.rawValue],
                    ["gateway", cluster.gatewayAddress], ["labels", cluster.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")],
                    ["last heartbeat", cluster.lastHeartbeatAt.map { ISO8601DateFormatter().string(from: $0) } ?? "never"],
                ])
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a cluster and revoke its certificates.")
        @OptionGroup var hub: HubOptions
        @Argument var name: String
        func run() async throws {
            try await reportingFailures {
                try await hub.client().removeCluster(name)
                print("removed cluster \(name); its gateway certificates are revoked")
            }
        }
    }

    struct JoinToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "join-token", abstract: "Create a one-time join token for a cluster's gateway.")
        @OptionGroup var hub: HubOptions
        @Argument var name: String
        @Option(help: "Lifetime in seconds") var ttl: Int = 3600
        func run() async throws {
            try await reportingFailures {
                let token = try await hub.client().createJoinToken(cluster: name, ttlSeconds: ttl)
                if hub.output == .json { try Printer.json(token); return }
                print(token.token ?? "")
            }
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Manage API tokens.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API token (admin only); the secret is printed once.")
        @OptionGroup var hub: HubOptions
        @Argument var name: String
        @Option(help: "admin, platform, compliance or viewer") var role: String
        @Option(help: "Lifetime in seconds") var ttl: Int?
        func run() async throws {
            guard let role = Role(rawValue: role) else { throw ValidationError("--role must be admin, platform, compliance or viewer") }
            try await reportingFailures {
                let token = try await hub.client().createToken(TokenCreateRequest(name: name, role: role, ttlSeconds: ttl))
                if hub.output == .json { try Printer.json(token); return }
                print(token.secret ?? "")
            }
        }
    }
}

struct PriceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "price", abstract: "GPU prices.", subcommands: [Import.self, List.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a SkyPilot vms.csv catalog.")
        @OptionGroup var hub: HubOptions
        @Argument var file: String
        @Option var source: String = "skypilot-catalog"
        func run() async throws {
            guard let csv = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read '\(file)'") }
            try await reportingFailures {
                let result = try await hub.client().importPrices(csv: csv, source: source)
                if hub.output == .json { try Printer.json(result); return }
                print("imported \(result.imported) per-GPU prices; skipped \(result.skipped.count)")
                for line in result.skipped { print("  skipped \(line)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List current prices.")
        @OptionGroup var hub: HubOptions
        @Option var region: String?
        @Option var cluster: String?
        func run() async throws {
            try await reportingFailures {
                let prices = try await hub.client().prices(region: region, cluster: cluster).items
                if hub.output == .json { try Printer.json(prices); return }
                Printer.table(["SCOPE", "GPU", "ON-DEMAND/H", "SPOT/H", "CURRENCY", "SOURCE"], prices.map {
                    [$0.cluster.map { "cluster:\($0)" } ?? $0.region ?? "", $0.gpuModel, String(format: "%.3f", $0.onDemandPerHour),
                     $0.spotPerHour.map { String(format: "%.3f", $0) } ?? "-", $0.currency, $0.source]
                })
            }
        }
    }
}

struct InventoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inventory", abstract: "GPU inventory.", subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a cluster's GPU inventory.")
        @OptionGroup var hub: HubOptions
        @Argument var cluster: String
        func run() async throws {
            try await reportingFailures {
                let inventory = try await hub.client().inventory(cluster: cluster)
                if hub.output == .json { try Printer.json(inventory); return }
                let observed = inventory.observedAt.map { ISO8601DateFormatter().string(from: $0) } ?? "never"
                print("cluster \(inventory.cluster), observed \(observed)\(inventory.stale ? " (STALE)" : "")")
                Printer.table(["GPU", "TOTAL", "ALLOCATABLE", "IN USE", "MEMORY GiB", "UTIL"], inventory.gpus.map {
                    [$0.model, "\($0.total)", "\($0.allocatable)", "\($0.inUse)", String(format: "%.0f", $0.memoryGiB), String(format: "%.0f%%", $0.utilization * 100)]
                })
                if !inventory.services.isEmpty {
                    Printer.table(["SERVICE", "QUEUE", "KV-CACHE", "HEALTHY ENDPOINTS"], inventory.services.map {
                        [$0.service, String(format: "%.0f", $0.queueDepth), String(format: "%.0f%%", $0.kvCacheUtilization * 100), $0.healthyEndpoints.map(String.init) ?? "-"]
                    })
                }
            }
        }
    }
}

struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "service", abstract: "Exported model services.", subcommands: [Export.self])

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export a service from a cluster.")
        @OptionGroup var hub: HubOptions
        @Argument var cluster: String
        @Argument var name: String
        @Option var port: Int
        @Option var version: String?
        @Option(name: .customLong("protocol")) var proto: String = "http"
        @Option var defaultClass: String?
        func run() async throws {
            guard let proto = ServiceProtocol(rawValue: proto) else { throw ValidationError("--protocol must be http or grpc") }
            try await reportingFailures {
                let export = try await hub.client().putService(cluster: cluster, name: name, ServiceExportSpec(version: version, protocol: proto, port: port, defaultDataClass: defaultClass))
                if hub.output == .json { try Printer.json(export); return }
                print("exported \(export.name) from \(export.cluster) (\(export.protocol.rawValue) port \(export.port))")
            }
        }
    }
}

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy", abstract: "Residency and routing policy.", subcommands: [Apply.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply a policy document (a new immutable version).")
        @OptionGroup var hub: HubOptions
        @Option(name: .short, help: "Policy YAML file") var file: String
        @Flag(help: "Show which routes would change; store nothing") var dryRun = false
        func run() async throws {
            guard let yaml = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read '\(file)'") }
            let kind = yaml.contains("kind: RoutingPreferences") ? "routing" : "residency"
            try await reportingFailures {
                let data = try await hub.client().applyPolicy(kind: kind, yaml: yaml, dryRun: dryRun)
                if hub.output == .json { Printer.prettyJSON(data); return }
                struct Result: Decodable { var version: Int64?; var summary: String }
                let result = try JSONDecoder().decode(Result.self, from: data)
                print(dryRun ? "dry run: nothing stored" : "applied \(kind) policy version \(result.version ?? 0)")
                print(result.summary)
            }
        }
    }
}

struct RouteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "route", abstract: "Explain and simulate routing.", subcommands: [Explain.self, Simulate.self, Show.self])

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Where could a request go, and why.")
        @OptionGroup var hub: HubOptions
        @Option var from: String
        @Option var service: String
        @Option(name: .customLong("class")) var dataClass: String?
        func run() async throws {
            try await reportingFailures {
                let data = try await hub.client().raw(.GET, "/v1/routes/explain" + HubClient.query([("from", from), ("service", service), ("class", dataClass)]))
                if hub.output == .json { Printer.prettyJSON(data); return }
                print(try RouteRendering.explanation(data))
            }
        }
    }

    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What would change if clusters went down, saturated or changed price.")
        @OptionGroup var hub: HubOptions
        @Option(help: "Cluster to take down (repeatable)") var down: [String] = []
        @Option(help: "CLUSTER or CLUSTER/SERVICE to saturate (repeatable)") var saturate: [String] = []
        @Option(help: "CLUSTER=PRICE per GPU-hour (repeatable)") var price: [String] = []
        func run() async throws {
            var prices: [String: Double] = [:]
            for item in price {
                let parts = item.split(separator: "=").map(String.init)
                guard parts.count == 2, let value = Double(parts[1]) else { throw ValidationError("--price must be CLUSTER=PRICE") }
                prices[parts[0]] = value
            }
            struct Body: Encodable { var down: [String]; var saturate: [String]; var price: [String: Double] }
            let body = try JSONEncoder().encode(Body(down: down, saturate: saturate, price: prices))
            try await reportingFailures {
                let data = try await hub.client().raw(.POST, "/v1/routes/simulate", json: body)
                if hub.output == .json { Printer.prettyJSON(data); return }
                struct Result: Decodable { var summary: String }
                print(try JSONDecoder().decode(Result.self, from: data).summary)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a cluster's current routing table.")
        @OptionGroup var hub: HubOptions
        @Argument var cluster: String
        func run() async throws {
            try await reportingFailures {
                Printer.prettyJSON(try await hub.client().raw(.GET, "/v1/routes/\(cluster)"))
            }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Read the audit log (compliance role).")
    @OptionGroup var hub: HubOptions
    @Option var action: String?
    @Option var objectType: String?
    @Option var objectName: String?
    @Option var limit: Int = 50
    func run() async throws {
        try await reportingFailures {
            let entries = try await hub.client().audit(action: action, objectType: objectType, objectName: objectName, limit: limit).items
            if hub.output == .json { try Printer.json(entries); return }
            Printer.table(["ID", "AT", "ACTOR", "ACTION", "OBJECT"], entries.map {
                ["\($0.id)", ISO8601DateFormatter().string(from: $0.at), $0.actor, $0.action, "\($0.objectType)/\($0.objectName)"]
            })
        }
    }
}
