import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A stand-in for a model server (vLLM, Triton) that speaks the real wire formats: the OpenAI-style
/// `POST /v1/chat/completions` (with `stream: true`, tokens as server-sent events after a realistic time to first
/// token), vLLM- and DCGM-style Prometheus text at `/metrics`, and `/health`.
public struct FakeModelServer: Sendable {
    /// Settings.
    public struct Configuration: Sendable {
        public var host: String = "127.0.0.1"
        public var port: Int = 0
        /// Cluster name it reports in every answer (`x-served-by`), so a demo can show where a request landed.
        public var cluster: String
        /// Model (service) name.
        public var model: String
        /// Time to first token. Default 120 ms.
        public var timeToFirstToken: Duration = .milliseconds(120)
        /// Time between tokens. Default 25 ms.
        public var interTokenDelay: Duration = .milliseconds(25)
        /// Tokens per answer. Default 12.
        public var tokens: Int = 12
        /// GPU model and count reported in DCGM metrics.
        public var gpuModel: String = "NVIDIA H100 80GB HBM3"
        public var gpuCount: Int = 8

        public init(cluster: String, model: String) {
            self.cluster = cluster
            self.model = model
        }
    }

    public let configuration: Configuration
    let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    struct ChatRequest: Decodable {
        struct Message: Decodable { var role: String; var content: String }
        var model: String?
        var messages: [Message]?
        var stream: Bool?
        var max_tokens: Int?
    }

    /// Runs the server; `onReady` receives the bound port.
    public func run(onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let configuration = self.configuration
        let inFlight = InFlightCounter()
        let router = Router()
        router.get("/health") { _, _ in "ok" }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: Self.metricsText(configuration, running: inFlight.value))))
        }
        router.post("/v1/chat/completions") { request, context -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let chat = (try? JSONDecoder().decode(ChatRequest.self, from: Data(body.readableBytesView))) ?? ChatRequest()
            let count = min(chat.max_tokens ?? configuration.tokens, 4096)
            let id = "chatcmpl-\(UInt32.random(in: 0...UInt32.max))"
            var headers: HTTPFields = [.init("x-served-by")!: configuration.cluster]
            if chat.stream == true {
                headers[.contentType] = "text/event-stream"
                headers[.cacheControl] = "no-cache"
                return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                    inFlight.add(1)
                    defer { inFlight.add(-1) }
                    try await Task.sleep(for: configuration.timeToFirstToken)
                    for index in 0..<count {
                        if index > 0 { try await Task.sleep(for: configuration.interTokenDelay) }
                        let token = index == 0 ? "[\(configuration.cluster)]" : " tok\(index)"
                        let produced = Date().timeIntervalSince1970
                        let event = #"{"id":"\#(id)","object":"chat.completion.chunk","model":"\#(configuration.model)","served_by":"\#(configuration.cluster)","produced_at":\#(produced),"choices":[{"index":0,"delta":{"content":"\#(token)"},"finish_reason":null}]}"#
                        try await writer.write(ByteBuffer(string: "data: \(event)\n\n"))
                    }
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                    try await writer.finish(nil)
                })
            }
            inFlight.add(1)
            defer { inFlight.add(-1) }
            try await Task.sleep(for: configuration.timeToFirstToken + configuration.interTokenDelay * (count - 1))
            let text = (["[\(configuration.cluster)]"] + (1..<max(1, count)).map { "tok\($0)" }).joined(separator: " ")
            headers[.contentType] = "application/json"
            let json = #"{"id":"\#(id)","object":"chat.completion","model":"\#(configuration.model)","served_by":"\#(configuration.cluster)","choices":[{"index":0,"message":{"role":"assistant","content":"\#(text)"},"finish_reason":"stop"}],"usage":{"completion_tokens":\#(count)}}"#
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
                              onServerRunning: { channel in await onReady(channel.localAddress?.port ?? configuration.port) },
                              logger: logger)
        try await app.runService()
    }

    /// vLLM (`vllm:*`) and DCGM exporter (`DCGM_FI_*`) metrics in Prometheus text format.
    static func metricsText(_ configuration: Configuration, running: Int) -> String {
        let model = configuration.model
        let utilization = min(100, 20 + running * 15)
        var lines = [
            "# HELP vllm:num_requests_running Number of requests currently running on GPU.",
            "# TYPE vllm:num_requests_running gauge",
            "vllm:num_requests_running{model_name=\"\(model)\"} \(running)",
            "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
            "# TYPE vllm:num_requests_waiting gauge",
            "vllm:num_requests_waiting{model_name=\"\(model)\"} \(max(0, running - 8))",
            "# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.",
            "# TYPE vllm:gpu_cache_usage_perc gauge",
            "vllm:gpu_cache_usage_perc{model_name=\"\(model)\"} \(String(format: "%.2f", min(1.0, 0.1 + Double(running) * 0.05)))",
            "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).",
            "# TYPE DCGM_FI_DEV_GPU_UTIL gauge",
        ]
        for gpu in 0..<configuration.gpuCount {
            lines.append("DCGM_FI_DEV_GPU_UTIL{gpu=\"\(gpu)\",UUID=\"GPU-\(configuration.cluster)-\(gpu)\",modelName=\"\(configuration.gpuModel)\",Hostname=\"\(configuration.cluster)-node\"} \(utilization)")
        }
        lines.append("# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).")
        lines.append("# TYPE DCGM_FI_DEV_FB_USED gauge")
        for gpu in 0..<configuration.gpuCount {
            lines.append("DCGM_FI_DEV_FB_USED{gpu=\"\(gpu)\",UUID=\"GPU-\(configuration.cluster)-\(gpu)\",modelName=\"\(configuration.gpuModel)\"} 30000")
        }
        lines.append("# HELP DCGM_FI_DEV_FB_FREE Framebuffer memory free (in MiB).")
        lines.append("# TYPE DCGM_FI_DEV_FB_FREE gauge")
        for gpu in 0..<configuration.gpuCount {
            lines.append("DCGM_FI_DEV_FB_FREE{gpu=\"\(gpu)\",UUID=\"GPU-\(configuration.cluster)-\(gpu)\",modelName=\"\(configuration.gpuModel)\"} 51000")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Requests in flight (for the metrics).
final class InFlightCounter: Sendable {
    private let box = Mutex(0)
    var value: Int { box.withLock { $0 } }
    func add(_ delta: Int) { box.withLock { $0 += delta } }
}
