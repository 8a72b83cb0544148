#!/usr/bin/env bash
# The requests per proxy CPU-second of the Meridian pair against HAProxy's, in alternating rounds: on a shared
# 2-CPU machine one run of run.sh puts each proxy in a different slice of time, and the load of the moment moves either
# figure by 30 % or more. Here both pairs run side by side (idle when not measured), and each round measures both,
# one right after the other, in alternating order; the script prints each round's ratio and the median.
#
#   client --HTTP/1.1 or h2c--> east --mTLS 1.3, HTTP/2--> west --HTTP/1.1--> nginx (1 KiB)    (as run.sh)
#
#   Benchmarks/proxy/rounds.sh                       # 6 rounds of 5 s per client kind, the release build
#   ROUNDS=10 SECONDS_PER_RUN=8 SKIP_BUILD=1 Benchmarks/proxy/rounds.sh
#   GATEWAY=/path/to/meridian-gateway ...            # another build
#   BASELINE=/path/to/other/meridian-gateway ...     # two Meridian builds against each other, instead of HAProxy
#
# Client kinds: wrk HTTP/1.1 keep-alive (CONNECTIONS, 50), h2load h2c (10 x 10 streams), wrk `Connection: close`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ROUNDS="${ROUNDS:-6}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-5}"
CONNECTIONS="${CONNECTIONS:-50}"
WORK="$(mktemp -d /tmp/meridian-rounds.XXXXXX)"
chmod 755 "$WORK"   # nginx's workers run unprivileged
. "$ROOT/Benchmarks/lib/processes.sh"
. "$ROOT/Benchmarks/lib/nginx.sh"
. "$ROOT/Benchmarks/lib/certs.sh"
. "$ROOT/Benchmarks/lib/haproxy.sh"
. "$ROOT/Benchmarks/lib/release.sh"
. "$ROOT/Benchmarks/lib/meridian.sh"

for tool in nginx haproxy wrk h2load openssl curl python3; do
    command -v "$tool" >/dev/null || { log "$tool is needed (run.sh installs nginx-light, haproxy, wrk, nghttp2-client)"; exit 1; }
done
if [ "${SKIP_BUILD:-0}" != 1 ] && [ -z "${GATEWAY:-}" ]; then
    log "building meridian-gateway (release)"
    release_build meridian-gateway
fi
GATEWAY="${GATEWAY:-$(release_bin_path)/meridian-gateway}"

make_mesh_certs "$WORK/certs"
start_nginx "127.0.0.1:18080 reuseport" "127.0.0.1:18081 http2"
start_meridian_pair meridian "$GATEWAY" 15000
meridian_east=$PAIR_EAST; meridian_west=$PAIR_WEST
if [ -n "${BASELINE:-}" ]; then
    # The other build's pair, on the ports HAProxy's would have.
    start_meridian_pair baseline "$BASELINE" 25000
    other_east=$PAIR_EAST; other_west=$PAIR_WEST
    OTHER=baseline
else
    haproxy_pair_configs "$WORK" "$WORK/certs" 25001 25443 127.0.0.1:18080
    haproxy -db -f "$WORK/haproxy-west.cfg" > "$WORK/haproxy-west.log" 2>&1 &
    other_west=$!; PIDS+=("$other_west")
    haproxy -db -f "$WORK/haproxy-east.cfg" > "$WORK/haproxy-east.log" 2>&1 &
    other_east=$!; PIDS+=("$other_east")
    OTHER=haproxy
fi

for port in 15001 25001; do
    for _ in $(seq 1 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.meridian' -H 'meridian-service: bench' "http://127.0.0.1:$port/")" = 200 ] && break
        sleep 0.05
    done
    wrk -t1 -c4 -d2s -H 'Host: bench.meridian' "http://127.0.0.1:$port/" > /dev/null   # warm-up
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS="$(getconf CLK_TCK)"

# measure KIND EAST WEST PORT: prints requests per CPU-second of the pair under one run of KIND
measure() {
    local kind=$1 east=$2 west=$3 port=$4 out="$WORK/out.txt" requests
    local before=$(( $(ticks "$east") + $(ticks "$west") ))
    case "$kind" in
        h1) wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -H 'Host: bench.meridian' "http://127.0.0.1:$port/" > "$out" 2>&1 ;;
        close) wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -H 'Host: bench.meridian' -H 'Connection: close' "http://127.0.0.1:$port/" > "$out" 2>&1 ;;
        h2c) h2load -c10 -m10 -D"$SECONDS_PER_RUN" -H 'meridian-service: bench' "http://127.0.0.1:$port/" > "$out" 2>&1 ;;
    esac
    local after=$(( $(ticks "$east") + $(ticks "$west") ))
    case "$kind" in
        h2c) requests="$(awk '/^requests:/ {print $8}' "$out")"   # succeeded
             # Every request succeeded and answered 2xx (h2load may count one more 2xx than it counts done: a response
             # whose head came as the run stopped).
             grep -q "succeeded, 0 failed, 0 errored" "$out" && grep -q "2xx, 0 3xx, 0 4xx, 0 5xx" "$out" \
                 && [ "$(awk '/^status codes:/ {print $3}' "$out")" -ge "$requests" ] \
                 || { log "h2c: not every request succeeded"; cat "$out" >&2; exit 1; } ;;
        *) requests="$(awk '/requests in/ {print $1}' "$out")"
           ! grep -q "Non-2xx\|Socket errors" "$out" || { log "$kind: errors"; cat "$out" >&2; exit 1; } ;;
    esac
    python3 -c "print(f'{$requests / (($after - $before) / $TICKS):.0f}')"
}

log "== requests per proxy CPU-second (east + west), Meridian and $OTHER alternating, $ROUNDS rounds of ${SECONDS_PER_RUN} s"
for round in $(seq 1 "$ROUNDS"); do
    for kind in h1 h2c close; do
        if [ $((round % 2)) = 1 ]; then
            m="$(measure "$kind" "$meridian_east" "$meridian_west" 15001)"; h="$(measure "$kind" "$other_east" "$other_west" 25001)"
        else
            h="$(measure "$kind" "$other_east" "$other_west" 25001)"; m="$(measure "$kind" "$meridian_east" "$meridian_west" 15001)"
        fi
        echo "$round $kind $m $h" >> "$WORK/rounds.txt"
        printf 'round %2d  %-5s  meridian %6s  %s %6s  ratio %s\n' "$round" "$kind" "$m" "$OTHER" "$h" "$(python3 -c "print(f'{$m / $h:.2f}')")"
    done
done
python3 - "$WORK/rounds.txt" "$OTHER" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
other = "HAProxy" if sys.argv[2] == "haproxy" else "baseline"
label = {"h1": "HTTP/1.1 clients", "h2c": "h2c clients", "close": "a new connection per request"}
for kind in ("h1", "h2c", "close"):
    ratios = sorted(int(m) / int(h) for _, k, m, h in rows if k == kind)
    meridian = [int(m) for _, k, m, _ in rows if k == kind]
    haproxy = [int(h) for _, k, _, h in rows if k == kind]
    print(f"{label[kind]:30} Meridian / {other}: median {statistics.median(ratios):.2f} (range {ratios[0]:.2f}-{ratios[-1]:.2f}); "
          f"median requests per CPU-second {statistics.median(meridian):.0f} / {statistics.median(haproxy):.0f}")
PY
