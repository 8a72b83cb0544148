import ArgumentParser
import Foundation
import Logging
import MeridianDemo

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev", abstract: "Stand-ins for what lives outside Meridian (tests, demo).",
                                                    subcommands: [FakeModel.self])

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
}
