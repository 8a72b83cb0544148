import ArgumentParser
import Foundation
import MeridianGatewayCommand

@main
struct Meridian: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian",
        abstract: "Multi-cluster federation for GPU inference: a hub, east-west gateways, and the commands that drive them.",
        subcommands: [HubCommand.self, GatewayCommand.self, DemoCommand.self, ClusterCommand.self, TokenCommand.self,
                      PriceCommand.self, InventoryCommand.self, ServiceCommand.self, PolicyCommand.self, RouteCommand.self,
                      AuditCommand.self, DevCommand.self])

}

/// Prints a line straight to standard output, unbuffered, so long-running commands show it at once in a pipe or log.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
