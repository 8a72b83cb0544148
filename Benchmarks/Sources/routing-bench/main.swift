#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MeridianModel
import MeridianRouting

// routing-bench: how the router's full compile and a one-cluster incremental update grow with the mesh.
// Usage: swift run -c release --package-path Benchmarks routing-bench [CLUSTERS ...]   (default: 100 1000 5000)

let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let clusterCounts = sizes.isEmpty ? [100, 1_000, 5_000] : sizes
let clock = ContinuousClock()

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// CPU seconds this thread has used: steadier than wall time on a shared machine.
func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Wall and CPU seconds of `body`.
func measure(_ body: () -> Void) -> (wall: Double, cpu: Double) {
    let cpu = cpuSeconds()
    let wall = clock.measure(body)
    return (seconds(wall), cpuSeconds() - cpu)
}

func fixed(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = "\(rounded)"
    if let dot = text.firstIndex(of: ".") {
        let have = text.distance(from: dot, to: text.endIndex) - 1
        if have < decimals { text += String(repeating: "0", count: decimals - have) }
    } else if decimals > 0 {
        text += "." + String(repeating: "0", count: decimals)
    }
    return text
}

struct Row {
    var clusters: Int
    var entries: Int
    var compile: (wall: Double, cpu: Double)
    var update: (wall: Double, cpu: Double)
    var changed: Int
}

print("routing-bench: 200 services, each exported by 20 clusters; 4 data classes; one table per cluster")
var rows: [Row] = []
for count in clusterCounts {
    let topology = BenchmarkTopology(clusters: count)
    let snapshot = topology.snapshot()
    var incremental = IncrementalRouter()
    // Full compile: the first update of an incremental router is a full Router.compile.
    var tables: [String: RoutingTable] = [:]
    let compile = measure { tables = incremental.update(snapshot).tables }
    let entries = tables.values.reduce(0) { $0 + $1.entries.count }
    tables = [:]

    // One-cluster change: the busiest exporter's load and price move.
    var changed = snapshot
    let index = changed.clusters.indices.max { changed.clusters[$0].services.count < changed.clusters[$1].services.count }!
    changed.clusters[index].gpuUtilization = 0.42
    changed.clusters[index].pricePerGPUHour = 1.23
    for service in changed.clusters[index].services.keys { changed.clusters[index].services[service]?.queueDepth += 7 }
    var changedSources = 0
    let update = measure { changedSources = incremental.update(changed).changedSources.count }
    rows.append(Row(clusters: count, entries: entries, compile: compile, update: update, changed: changedSources))
    print("  \(count) clusters: full compile \(fixed(compile.wall, 3)) s (CPU \(fixed(compile.cpu, 3)) s), one-cluster update \(fixed(update.wall, 3)) s (CPU \(fixed(update.cpu, 3)) s), \(changedSources) tables changed")
}

let base = rows.first!
print("")
print("| clusters | entries | full compile, CPU s | growth | one-cluster update, CPU s | growth | update / compile | tables changed |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for row in rows {
    print("| \(row.clusters) | \(row.entries) | \(fixed(row.compile.cpu, 3)) | \(fixed(row.compile.cpu / base.compile.cpu, 1))x | \(fixed(row.update.cpu, 3)) | \(fixed(row.update.cpu / base.update.cpu, 1))x | \(fixed(100 * row.update.cpu / row.compile.cpu, 0))% | \(row.changed) |")
}
print("")
print("growth = time at N / time at \(base.clusters) clusters (clusters grow \(rows.map { "\($0.clusters / base.clusters)x" }.joined(separator: ", ")))")
