import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
struct Meridian: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian",
        abstract: "Multi-cluster federation for GPU inference: a hub, east-west gateways, and the commands that drive them.",
        subcommands: [HubCommand.self, GatewayCommand.self, DemoCommand.self, ClusterCommand.self, TokenCommand.self,
                      PriceCommand.self, InventoryCommand.self, ServiceCommand.self, PolicyCommand.self, RouteCommand.self,
                      AuditCommand.self, DevCommand.self])

    /// Line-buffered stdout, so that what the commands print reaches a pipe or a log file at once.
    static func main() async {
        setvbuf(stdout, nil, _IOLBF, 0)
        await main(nil)
    }
}
