import Foundation
import MeridianGateway
import NIOCore
import NIOHTTP1
import Testing

/// A 1 GiB upload through east -> west to a model server that only counts bytes (and, in the second test, stops
/// reading for 4 s after the first quarter: only backpressure keeps the gateways from buffering what the client
/// keeps sending).
///
/// The gateways run in the measuring process, so its resident memory is theirs (plus the client's and the
/// counter's, which hold one chunk at a time). That process is a child (a Swift Testing exit test) so that suites
/// running in parallel in the test process do not add their own allocations to the figure.
/// `MERIDIAN_TEST_UPLOAD_BYTES` overrides the size (default 1 GiB); for investigating, `MERIDIAN_TEST_UPLOAD_IN_PROCESS=1`
/// runs without the child, `MERIDIAN_TEST_UPLOAD_TIMELINE=1` prints bytes and RSS every 250 ms, and
/// `MERIDIAN_TEST_UPLOAD_DIRECT=1` sends straight to the model server (no gateways), and
/// `MERIDIAN_TEST_UPLOAD_MALLOC_STATS=1` adds glibc's `malloc_stats()` (live heap per arena) to the timeline.
@Suite("Gateway large upload", .serialized, .timeLimit(.minutes(5)))
struct GatewayLargeUploadTests {
    static let defaultSize = 1 << 30
    static var size: Int {
        ProcessInfo.processInfo.environment["MERIDIAN_TEST_UPLOAD_BYTES"].flatMap { Int($0) } ?? defaultSize
    }
    /// Growth of the resident set allowed while the body streams (two gateways, the client and the model server share
    /// the child process). Measured 2-3 MiB. With swift-nio-http2's handler on the tunnel and no frame aligner before it,
    /// 10-33 MiB: its frame decoder buffer on west's tunnel connection doubled up to 16 MiB (docs/gateway.md). Buffering the body would grow it by
    /// the size of the body.
    static let allowedGrowth = 12 << 20
    /// The same while the model server pauses. The bytes the gateways then hold are bounded by the stream's HTTP/2
    /// window (1 MiB: the gateways here keep the configured window, see below), its write buffers and TLS records, each held DATA frame in a buffer of its own
    /// (copied by the paused stream, `HTTP2StreamMux`; as slices of swift-nio-http2's parser buffer they held 88-290
    /// MiB with 4 MiB windows, docs/gateway.md). Measured 2-3 MiB (10-39 MiB then).
    static let allowedGrowthWhilePausing = 12 << 20
    /// How long the model server stops reading.
    static let pause: Duration = .seconds(4)

    @Test("1 GiB streams through the pair with flat memory: every byte arrives, RSS grows by less than 12 MiB")
    func oneGiBFlatMemory() async throws {
        try await Self.runMeasured(pausing: false)
    }

    @Test("1 GiB with a model server that stops reading for 4 s: the client is held back, and RSS grows by less than 12 MiB")
    func oneGiBWithStalledConsumer() async throws {
        try await Self.runMeasured(pausing: true)
    }

    /// Runs ``uploadAndMeasure(pausing:reportPath:)`` in a child process and checks its report.
    static func runMeasured(pausing: Bool) async throws {
        if ProcessInfo.processInfo.environment["MERIDIAN_TEST_UPLOAD_IN_PROCESS"] == "1" {
            // For debugging: no child process (memory figures then include whatever else runs).
            try await uploadAndMeasure(pausing: pausing, reportPath: nil)
            return
        }
        // The child writes its report to a file: observing its standard output or error would block a thread of
        // the (small) cooperative pool reading the pipe for the whole upload, stalling every other suite.
        let reportPath = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-upload-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: reportPath) }
        await #expect(processExitsWith: .success) { [reportPath = reportPath as String, pausing = pausing as Bool] in
            try await GatewayLargeUploadTests.uploadAndMeasure(pausing: pausing, reportPath: reportPath)
        }
        report(at: reportPath)
    }

    static func report(at path: String) {
        let output = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        print(output, terminator: "")
        #expect(output.contains("large upload: ok"), "the child reported: \(output)")
    }

    /// Runs in the child process: throws (a failed exit) when a check fails, and prints what it measured.
    static func uploadAndMeasure(pausing: Bool, reportPath: String?) async throws {
        let lines = Locked<[String]>([])
        @Sendable func say(_ line: String) {
            print(line)
            lines.withLock { $0.append(line) }
            if let reportPath { try? lines.value.joined(separator: "\n").appending("\n").write(toFile: reportPath, atomically: true, encoding: .utf8) }
        }
        let total = size
        let allowedGrowth = pausing ? Self.allowedGrowthWhilePausing : Self.allowedGrowth
        let sink = try await PausingSink.start(pauseAfter: pausing ? total / 4 : Int.max, pauseFor: .nanoseconds(Int64(pause.components.seconds) * 1_000_000_000))
        defer { Task { await sink.stop() } }
        let failures = Locked<[String]>([])
        try await Mesh.run(
            endpoints: ["east": [:], "west": ["chat": ["127.0.0.1:\(sink.port)"]]],
            tables: { tunnel in
                [
                    "east": TestTables.table(source: "east", address: tunnel["east"]!, peers: ["west": tunnel["west"]!], levels: [[("west", 1)]], timeout: 600),
                    "west": TestTables.table(source: "west", address: tunnel["west"]!, peers: ["east": tunnel["east"]!], levels: [[("west", 1)]], timeout: 600),
                ]
            },
            // The window stays at its configured 1 MiB, so that the bound on what a stalled stream holds is exact:
            // ``AdaptiveWindow`` grows it with the round trips it measures, which on a loaded loopback took it to a
            // few MiB (GatewayWindowGrowthTests covers growth).
            configure: { $0.http2WindowMax = $0.http2Window }
        ) { mesh in
            let chunk = 256 * 1024
            // Warm the path (connections, buffers, allocator arenas) before taking the baseline.
            let warm = try await TestClient.send(port: mesh.port("east"), .PUT, "/upload", body: String(repeating: "w", count: 1 << 20))
            guard warm.body == "received \(1 << 20)" else { throw MeshError(description: "warm-up failed: \(warm.body)") }
            sink.received.withLock { $0 = 0 }
            guard let baseline = ResidentMemory.current else { throw MeshError(description: "no /proc/self/status") }
            let highest = Locked<Int>(baseline)
            let sent = Locked<Int>(0)
            let started = ContinuousClock.now
            let connection = try await TestClient.connect(port: ProcessInfo.processInfo.environment["MERIDIAN_TEST_UPLOAD_DIRECT"] == "1" ? sink.port : mesh.port("east"))
            let (response, stall) = try await connection.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: (Int, Int)?.self) { group in
                    // Samples memory, and how far the client gets while the model server does not read.
                    group.addTask {
                        var early: Int?
                        var stall: (Int, Int)?
                        var lastLine = ContinuousClock.now
                        while sent.value < total || (stall == nil && sink.pausedAt.value != nil) {
                            if let now = ResidentMemory.current { highest.withLock { $0 = max($0, now) } }
                            if ProcessInfo.processInfo.environment["MERIDIAN_TEST_UPLOAD_TIMELINE"] == "1", ContinuousClock.now - lastLine > .milliseconds(250) {
                                lastLine = .now
                                print("  t=\(ContinuousClock.now - started) sent \(sent.value >> 20) MiB received \(sink.received.value >> 20) MiB RSS \((ResidentMemory.current ?? 0) >> 20) MiB")
                                if ProcessInfo.processInfo.environment["MERIDIAN_TEST_UPLOAD_MALLOC_STATS"] == "1" { ResidentMemory.printAllocatorStatistics() }
                            }
                            if let pausedAt = sink.pausedAt.value {
                                if early == nil, ContinuousClock.now >= pausedAt + .milliseconds(1500) { early = sent.value }
                                if let early, stall == nil, ContinuousClock.now >= pausedAt + pause - .milliseconds(300) { stall = (early, sent.value) }
                            }
                            try await Task.sleep(for: .milliseconds(50))
                        }
                        return stall
                    }
                    try await outbound.write(.head(TestClient.head(.PUT, "/upload", host: "chat.meridian", headers: [("content-length", String(total))])))
                    let payload = ByteBuffer(repeating: 0x61, count: chunk)
                    while sent.value < total {
                        let size = min(chunk, total - sent.value)
                        try await outbound.write(.body(.byteBuffer(size == chunk ? payload : ByteBuffer(repeating: 0x61, count: size))))
                        sent.withLock { $0 += size }
                    }
                    try await outbound.write(.end(nil))
                    var stall: (Int, Int)?
                    for try await sample in group where sample != nil { stall = sample }
                    return (try await TestClient.collect(inbound), stall)
                }
            }
            let elapsed = ContinuousClock.now - started
            if let now = ResidentMemory.current { highest.withLock { $0 = max($0, now) } }
            let growth = highest.value - baseline
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            say("large upload: \(total) bytes in \(String(format: "%.1f", seconds)) s, \(pausing ? "the model server pausing \(pause)" : "the model server reading all along") "
                + "(\(String(format: "%.0f", Double(total) / seconds / 1e6)) MB/s); RSS \(baseline >> 20) MiB at start, "
                + "highest \(highest.value >> 20) MiB, growth \(growth >> 20) MiB; "
                + "client ahead of the model server when it paused: \(stall.map { "\(($0.0 - total / 4) >> 20) MiB, then +\(($0.1 - $0.0) >> 10) KiB over 2.2 s" } ?? "not measured"); "
                + "tunnel window growths on loopback: \(GatewayWindowGrowthTests.growths(mesh.gateways["west"]!))")
            if response.status != 200 || response.body != "received \(total)" { failures.withLock { $0.append("the model server answered \(response.status) \(response.body)") } }
            if sink.received.value != total { failures.withLock { $0.append("the model server received \(sink.received.value) of \(total) bytes") } }
            if growth >= allowedGrowth { failures.withLock { $0.append("resident memory grew by \(growth >> 20) MiB while \(total >> 20) MiB streamed") } }
            if let (early, late) = stall {
                // Once every buffer on the way is full, the client cannot send more until the model server reads.
                if late - early > 1 << 20 { failures.withLock { $0.append("the client sent \((late - early) >> 10) KiB more while the model server did not read") } }
            } else if pausing {
                failures.withLock { $0.append("the model server never paused (it got \(sink.received.value) bytes)") }
            }
        }
        if !failures.value.isEmpty {
            say("large upload: FAILED: " + failures.value.joined(separator: "; "))
            throw MeshError(description: failures.value.joined(separator: "; "))
        }
        say("large upload: ok")
    }
}
