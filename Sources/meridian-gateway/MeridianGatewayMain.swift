import ArgumentParser
import MeridianGatewayCommand

/// `meridian-gateway`: the same command as `meridian gateway`, in an executable that links the gateway only.
@main
struct MeridianGatewayMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian-gateway",
        abstract: "The east-west gateway alone (the same flags as `meridian gateway`).",
        subcommands: [GatewayCommand.self],
        defaultSubcommand: GatewayCommand.self)
}
