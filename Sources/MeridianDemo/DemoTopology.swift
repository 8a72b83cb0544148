import Foundation
import Yams

/// The demo's clusters (`regions/demo-topology.yaml`), each given its own loopback address.
public struct DemoTopology: Sendable {
    /// One member cluster.
    public struct Cluster: Sendable, Decodable {
        public struct Pool: Sendable, Decodable {
            public var model: String
            public var count: Int
            public var memoryGiB: Double
        }
        public var name: String
        public var region: String
        public var labels: [String: String]?
        public var gpus: [Pool]
        public var services: [String]
        /// Loopback address of its processes, `127.0.0.N`; set by the launcher.
        public var address: String = ""

        enum CodingKeys: String, CodingKey { case name, region, labels, gpus, services }
    }

    public var clusters: [Cluster]

    public init(yaml: String, firstAddress: Int = 11) throws {
        struct File: Decodable { var clusters: [Cluster] }
        var clusters = try YAMLDecoder().decode(File.self, from: yaml).clusters
        for index in clusters.indices { clusters[index].address = "127.0.0.\(firstAddress + index)" }
        self.clusters = clusters
    }

    public func cluster(_ name: String) -> Cluster? { clusters.first { $0.name == name } }

    /// Every service any cluster runs, sorted.
    public var services: [String] { Array(Set(clusters.flatMap(\.services))).sorted() }
}

/// Fixed ports on each cluster's loopback address.
public enum DemoPorts {
    public static let local = 15001
    public static let tunnel = 15443
    public static let metrics = 15090
    /// Model servers: 18000 + index of the service in ``DemoTopology/services``.
    public static let firstModel = 18000
}
