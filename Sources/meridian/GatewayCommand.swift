import ArgumentParser

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway", abstract: "Run an east-west gateway.")
    func run() async throws { throw ValidationError("the gateway is being built") }
}
