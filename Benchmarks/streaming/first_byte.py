#!/usr/bin/env python3
"""Time to the first server-sent event byte, straight from the model server and through the gateway pair.

    first_byte.py MODEL_PORT EAST_PORT N [WEST_PORT [HAPROXY_PORT]]

With WEST_PORT (west's local listener, which serves `chat` from its own endpoint), a third target shows one
gateway hop without the tunnel; with HAPROXY_PORT, a fourth goes through an HAProxy pair in the same topology, the
same-run baseline for what the Meridian pair adds.

Sends N streaming chat completions to each, interleaved (direct, pair, direct, ...) on one keep-alive connection
per target, after 20 unmeasured warm-up requests each. A sample is the time from the request's first byte written
to the first byte of the first `data:` event read (the response head is not counted as the first byte); the time
to the stream's last byte is kept too, to show that later events are not held either. Prints p50/p99/max of each
in milliseconds, the differences, and a JSON line.
"""
import http.client
import json
import statistics
import sys
import time

model_port, east_port, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
west_port = int(sys.argv[4]) if len(sys.argv) > 4 else None
haproxy_port = int(sys.argv[5]) if len(sys.argv) > 5 else None
BODY = json.dumps({"model": "chat", "stream": True, "max_tokens": 4,
                   "messages": [{"role": "user", "content": "hi"}]})


class Target:
    def __init__(self, name, port, headers):
        self.name, self.port, self.headers = name, port, headers
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.samples = []
        self.whole = []

    def once(self):
        started = time.perf_counter()
        self.connection.request("POST", "/v1/chat/completions", body=BODY, headers=self.headers)
        response = self.connection.getresponse()
        first = response.read(5)
        elapsed = time.perf_counter() - started
        rest = response.read()
        self.last = time.perf_counter() - started
        if response.status != 200 or first != b"data:" or b"[DONE]" not in rest:
            raise SystemExit(f"{self.name}: unexpected answer {response.status} {first!r}{rest[:200]!r}")
        return elapsed


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


json_headers = {"content-type": "application/json", "accept": "text/event-stream"}
targets = [Target("direct", model_port, json_headers), Target("pair", east_port, {**json_headers, "host": "chat.meridian"})]
if west_port:
    targets.append(Target("one hop", west_port, {**json_headers, "host": "chat.meridian"}))
if haproxy_port:
    targets.append(Target("haproxy", haproxy_port, json_headers))
for _ in range(20):
    for target in targets:
        target.once()
for _ in range(count):
    for target in targets:
        target.samples.append(target.once())
        target.whole.append(target.last)

summary = {"n": count}
for target in targets:
    ms = [s * 1000 for s in target.samples]
    whole = [s * 1000 for s in target.whole]
    summary[target.name] = {"p50_ms": round(statistics.median(ms), 3), "p99_ms": round(percentile(ms, 0.99), 3),
                            "max_ms": round(max(ms), 3), "last_byte_p50_ms": round(statistics.median(whole), 3)}
    print(f"{target.name:>8}: first byte p50 {statistics.median(ms):7.3f} ms   p99 {percentile(ms, 0.99):7.3f} ms   "
          f"max {max(ms):7.3f} ms   (last byte p50 {statistics.median(whole):7.3f} ms)")
summary["added_p50_ms"] = round(summary["pair"]["p50_ms"] - summary["direct"]["p50_ms"], 3)
summary["added_p99_ms"] = round(summary["pair"]["p99_ms"] - summary["direct"]["p99_ms"], 3)
summary["added_last_byte_p50_ms"] = round(summary["pair"]["last_byte_p50_ms"] - summary["direct"]["last_byte_p50_ms"], 3)
if west_port:
    summary["added_one_hop_p50_ms"] = round(summary["one hop"]["p50_ms"] - summary["direct"]["p50_ms"], 3)
    print(f"  one gateway (west's local listener, no tunnel) adds p50 {summary['added_one_hop_p50_ms']:7.3f} ms")
print(f"  added: first byte p50 {summary['added_p50_ms']:7.3f} ms   p99 {summary['added_p99_ms']:7.3f} ms   "
      f"(last byte p50 {summary['added_last_byte_p50_ms']:7.3f} ms)   (pair - direct)")
if haproxy_port:
    summary["haproxy_added_p50_ms"] = round(summary["haproxy"]["p50_ms"] - summary["direct"]["p50_ms"], 3)
    summary["haproxy_added_p99_ms"] = round(summary["haproxy"]["p99_ms"] - summary["direct"]["p99_ms"], 3)
    print(f"  HAProxy pair adds: first byte p50 {summary['haproxy_added_p50_ms']:7.3f} ms   p99 {summary['haproxy_added_p99_ms']:7.3f} ms"
          f"   (Meridian / HAProxy at p50: {summary['added_p50_ms'] / max(summary['haproxy_added_p50_ms'], 0.001):.2f})")
print(json.dumps(summary))
