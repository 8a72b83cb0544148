import ArgumentParser
import Foundation
import MeridianDemo
import MeridianModel
import UnixSignals

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start a hub and four clusters in three jurisdictions on this machine, and tell their story.")

    @Option(help: "Working directory for the demo's data and logs (emptied first)")
    var workDir: String = ".meridian/demo"

    @Option(help: "Hub port")
    var hubPort: Int = 18443

    @Flag(help: "Stop after the story instead of running until Ctrl-C")
    var exitAfterStory = false

    func run() async throws {
        guard let catalog = RegionCatalog.defaultPath() else {
            throw ValidationError("run the demo from the repository (regions/regions.yaml was not found)")
        }
        let root = URL(fileURLWithPath: catalog).deletingLastPathComponent().deletingLastPathComponent().path
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let work = URL(fileURLWithPath: workDir, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL.path
        var configuration = MeshLauncher.Configuration(executable: executable, repositoryRoot: root, workDirectory: work)
        configuration.hubPort = hubPort
        let topology = try DemoTopology(yaml: String(contentsOfFile: root + "/regions/demo-topology.yaml", encoding: .utf8))
        let launcher = MeshLauncher(configuration: configuration, topology: topology)
        say("Meridian demo: a hub and four GPU clusters (Frankfurt, Stockholm, Virginia, Mumbai) on this machine.")
        say("Logs of every process: \(work)/logs")

        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let finished: Bool = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await DemoStory(launcher: launcher, say: say).run()
                    say("")
                    say("== The mesh keeps running " + String(repeating: "=", count: 52))
                    say("  export MERIDIAN_HUB=\(launcher.hubURL)")
                    say("  export MERIDIAN_CA_FILE=\(launcher.caFile)")
                    say("  export MERIDIAN_TOKEN=\(launcher.adminToken)")
                    say("  try: meridian cluster list; meridian route explain --from bom --service triage-assistant --class eu-personal")
                    say("       curl -s -H 'meridian-data-class: eu-personal' http://\(topology.cluster("fra")!.address):15001/v1/chat/completions \\")
                    say("            -H 'Host: triage-assistant.meridian' -d '{\"stream\":true,\"messages\":[]}'")
                    if !exitAfterStory {
                        say("  Ctrl-C stops every process the demo started.")
                        try await Task.sleep(for: .seconds(365 * 24 * 3600))
                    }
                    return true
                } catch is CancellationError {
                    return false
                } catch {
                    say("demo failed: \(error)")
                    return false
                }
            }
            group.addTask {
                for await _ in signals { return false }
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        say("stopping the demo's processes ...")
        await launcher.stopAll()
        say("stopped.")
        if !finished && exitAfterStory { throw ExitCode(1) }
    }
}
