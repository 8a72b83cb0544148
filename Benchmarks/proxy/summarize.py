#!/usr/bin/env python3
"""Parses wrk / h2load output and /proc samples into one result line (JSON) per run."""
import json
import re
import sys


def wrk(path):
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    pct = {}
    for label, value, unit in re.findall(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
        pct[label] = float(value) * scale
    return {"rps": rps, "requests": total, "errors": errors + (int(non2xx.group(1)) if non2xx else 0),
            "p50_ms": pct.get("50"), "p99_ms": pct.get("99")}


def h2load(path, log):
    text = open(path).read()
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text).group(1))
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", text)
    status = re.search(r"status codes: (\d+) 2xx", text)
    latencies = []
    for line in open(log):
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "200":
            latencies.append(int(parts[2]) / 1000.0)  # microseconds -> ms
    latencies.sort()

    def q(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else None

    total = int(done.group(1)) if done else 0
    ok = int(status.group(1)) if status else 0
    return {"rps": rps, "requests": total, "errors": total - ok, "p50_ms": q(0.50), "p99_ms": q(0.99)}


kind, path = sys.argv[1], sys.argv[2]
result = wrk(path) if kind == "wrk" else h2load(path, sys.argv[3])
print(json.dumps(result))
