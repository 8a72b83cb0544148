#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel

/// Turns the cluster's metrics into the inventory part of a heartbeat: GPU pools from the DCGM exporter
/// (`DCGM_FI_DEV_GPU_UTIL`, `DCGM_FI_DEV_FB_USED`, `DCGM_FI_DEV_FB_FREE`, one series per GPU with `gpu` and
/// `modelName` labels) and per-service load from vLLM (`vllm:num_requests_waiting`, `vllm:gpu_cache_usage_perc`).
public enum InventoryScraper {
    /// GPU pools, one per model, from DCGM exporter samples.
    public static func gpuPools(from samples: [PrometheusText.Sample]) -> [GPUPool] {
        struct Device {
            var model = "unknown"
            var utilization: Double?
            var usedMiB: Double?
            var freeMiB: Double?
        }
        var devices: [String: Device] = [:]
        for sample in samples {
            guard sample.name.hasPrefix("DCGM_FI_DEV_"), sample.value.isFinite else { continue }
            let id = sample.labels["UUID"] ?? sample.labels["gpu"] ?? sample.labels["device"] ?? "0"
            var device = devices[id] ?? Device()
            if let model = sample.labels["modelName"] { device.model = shortModelName(model) }
            switch sample.name {
            case "DCGM_FI_DEV_GPU_UTIL": device.utilization = sample.value
            case "DCGM_FI_DEV_FB_USED": device.usedMiB = sample.value
            case "DCGM_FI_DEV_FB_FREE": device.freeMiB = sample.value
            default: break
            }
            devices[id] = device
        }
        var pools: [String: [Device]] = [:]
        for device in devices.values { pools[device.model, default: []].append(device) }
        return pools.keys.sorted().map { model in
            let members = pools[model]!
            let utilizations = members.compactMap(\.utilization)
            let mean = utilizations.isEmpty ? 0 : utilizations.reduce(0, +) / Double(utilizations.count) / 100
            let memory = members.compactMap { device -> Double? in
                guard let used = device.usedMiB, let free = device.freeMiB else { return nil }
                return (used + free) / 1024
            }.max() ?? 0
            let inUse = members.filter { device in
                if let utilization = device.utilization, utilization > 0 { return true }
                if let used = device.usedMiB, let free = device.freeMiB, used + free > 0 { return used / (used + free) > 0.05 }
                return false
            }.count
            return GPUPool(model: model, total: members.count, allocatable: members.count, inUse: inUse,
                           memoryGiB: (memory * 10).rounded() / 10, utilization: min(1, max(0, mean)))
        }
    }

    /// `NVIDIA H100 80GB HBM3` -> `H100`; `NVIDIA A100-SXM4-80GB` -> `A100`; `Tesla T4` -> `T4`.
    public static func shortModelName(_ name: String) -> String {
        let words = name.split(separator: " ").filter { !["NVIDIA", "Tesla", "GeForce", "Quadro"].contains($0) }
        guard let first = words.first else { return name.isEmpty ? "unknown" : name }
        return String(first.split(separator: "-").first ?? first)
    }

    /// Queue depth (sum of waiting requests) and KV-cache use (mean, 0...1) from vLLM samples.
    public static func serviceLoad(service: String, from samples: [PrometheusText.Sample], healthyEndpoints: Int?) -> ServiceLoad {
        var waiting = 0.0
        var cache: [Double] = []
        for sample in samples where sample.value.isFinite {
            switch sample.name {
            case "vllm:num_requests_waiting": waiting += sample.value
            case "vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc": cache.append(sample.value)
            default: break
            }
        }
        let kv = cache.isEmpty ? 0 : cache.reduce(0, +) / Double(cache.count)
        return ServiceLoad(service: service, queueDepth: max(0, waiting), kvCacheUtilization: min(1, max(0, kv > 1 ? kv / 100 : kv)),
                           healthyEndpoints: healthyEndpoints)
    }
}
