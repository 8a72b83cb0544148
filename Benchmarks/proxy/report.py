#!/usr/bin/env python3
"""Prints the benchmark table from results.jsonl."""
import json
import sys

# RSS idle is "total/anonymous": total counts the binary's and libraries' pages (shared between processes),
# anonymous is the private heap and stacks.
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
header = f"{'proxy':<9} {'client':<22} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'proxy CPU s':>11} {'of it sys':>9} {'req/CPU-s':>10} {'RSS idle MB':>13} {'RSS load MB':>11} {'anon load MB':>12}"
print(header)
print("-" * len(header))
for r in rows:
    def f(v, fmt):
        return format(v, fmt) if isinstance(v, (int, float)) else "-"
    print(f"{r['proxy']:<9} {r['client']:<22} {f(r.get('rps'), '9.0f')} {f(r.get('p50_ms'), '8.2f')} {f(r.get('p99_ms'), '8.2f')} "
          f"{f(r.get('errors'), '6d')} {f(r.get('cpu_s'), '11.2f')} {f(r.get('sys_cpu_s'), '9.2f')} {f(r.get('req_per_cpu_s'), '10.0f')} "
          f"{r.get('rss_idle_mb', '-'):>13} {r.get('rss_load_mb', '-'):>11} {r.get('anon_load_mb', '-'):>12}")
