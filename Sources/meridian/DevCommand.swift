import ArgumentParser
import Foundation
import Logging
import MeridianDemo
import MeridianModel

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev", abstract: "Stand-ins for what lives outside Meridian (tests, demo).",
                                                    subcommands: [FakeModel.self, BenchControl.self])

    struct FakeModel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fake-model", abstract: "An OpenAI-style streaming model server with vLLM/DCGM metrics.")
        @Option var listen: String = "127.0.0.1:8000"
        @Option var cluster: String
        @Option var model: String
        @Option(help: "Time to first token, ms") var ttftMs: Int = 120
        @Option(help: "Time between tokens, ms") var tokenMs: Int = 25
        @Option var tokens: Int = 12
        func run() async throws {
            let (host, port) = try parseHostPort(listen, option: "--listen")
            var configuration = FakeModelServer.Configuration(cluster: cluster, model: model)
            configuration.host = host
            configuration.port = port
            configuration.timeToFirstToken = .milliseconds(ttftMs)
            configuration.interTokenDelay = .milliseconds(tokenMs)
            configuration.tokens = tokens
            let server = FakeModelServer(configuration: configuration, logger: Logger(label: "meridian.fake-model"))
            let (model, cluster) = (configuration.model, configuration.cluster)
            try await server.run { port in say("fake model \(model) of \(cluster) on \(host):\(port)") }
        }
    }

    struct BenchControl: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bench-control",
                                                        abstract: "Connect N simulated gateways to one hub, change one cluster, time until all have the new table.")
        @Option(help: "Gateway counts, comma-separated") var gateways: String = "100,250,500"
        @Option(help: "Changes per count") var rounds: Int = 5
        @Option var workDir: String = ".meridian/bench-control"

        func run() async throws {
            guard let catalog = RegionCatalog.defaultPath() else { throw ValidationError("run from the repository") }
            let root = URL(fileURLWithPath: catalog).deletingLastPathComponent().deletingLastPathComponent().path
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            let counts = gateways.split(separator: ",").compactMap { Int($0) }
            let benchmark = ControlPlaneBenchmark(executable: executable, repositoryRoot: root,
                                                  workDirectory: URL(fileURLWithPath: workDir).standardizedFileURL.path, say: say)
            let results = try await benchmark.run(counts: counts, rounds: rounds)
            say("")
            say("gateways  samples  first ms  p50 ms  p99 ms  max ms  baseline RTT ms  p50/baseline  p99/baseline  table KB  MB per change")
            for r in results {
                let first = r.samples.min() ?? .nan, p50 = r.percentile(0.5), p99 = r.percentile(0.99), max = r.samples.max() ?? .nan
                say(String(format: "%8d  %7d  %8.1f  %6.1f  %6.1f  %6.1f  %15.2f  %12.1f  %12.1f  %8.1f  %12.1f", r.gateways, r.samples.count, first, p50, p99, max,
                           r.baselineMs, p50 / r.baselineMs, p99 / r.baselineMs, Double(r.tableBytes) / 1024,
                           Double(r.tableBytes * r.gateways) / 1_048_576))
            }
        }
    }
}
