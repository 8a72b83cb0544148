import ArgumentParser

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Start a hub and four clusters on this machine and tell their story.")
    func run() async throws { throw ValidationError("the demo is being built") }
}
