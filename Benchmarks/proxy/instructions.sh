#!/usr/bin/env bash
# Instructions the gateway pair executes per 1 KiB request, counted by valgrind's callgrind (which, unlike CPU time,
# does not move with the machine's load), in run.sh's topology:
#
#   h2load --HTTP/1.1 or h2c--> east --mTLS 1.3, HTTP/2--> west --HTTP/1.1 (or h2c)--> nginx (1 KiB)
#
# Both gateways run under callgrind. After a warm-up, N requests from HTTP/1.1 clients (h2load --h1, H1_CLIENTS
# connections), N from h2c clients (H2_CLIENTS connections x H2_STREAMS streams), then for CLOSE_SECONDS (10) a new
# HTTP/1.1 connection per request (wrk, `Connection: close`), then N from HTTP/1.1 clients to the service whose
# endpoint is nginx over h2c (`bench-h2c`, as a gRPC model server would be reached); prints, per gateway and for the pair, the instructions
# per request, with and without NIOHPACK's search of its dynamic table (whose cost grows with
# the number of distinct `date` values the table holds, i.e. with the run's length in seconds, so it is shown apart).
#
#   Benchmarks/proxy/instructions.sh                                   # the release build
#   GATEWAY=/path/a BASELINE=/path/b Benchmarks/proxy/instructions.sh   # two builds, same run, and the ratios
#   KEEP=1 ...                                                         # keep the callgrind files (callgrind_annotate)
#
# valgrind chokes on the release binary's debug information: the script strips a copy (strip -g) first.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
N="${N:-2000}"
H1_CLIENTS="${H1_CLIENTS:-4}"
H2_CLIENTS="${H2_CLIENTS:-2}"
H2_STREAMS="${H2_STREAMS:-4}"
CLOSE_SECONDS="${CLOSE_SECONDS:-10}"
PORT_BASE="${PORT_BASE:-19000}"
NGINX_PORT=$((PORT_BASE + 80)); NGINX_H2C_PORT=$((PORT_BASE + 81)); EAST_LOCAL=$((PORT_BASE + 1)); WEST_LOCAL=$((PORT_BASE + 2))
EAST_TUNNEL=$((PORT_BASE + 444)); WEST_TUNNEL=$((PORT_BASE + 443))
WORK="$(mktemp -d /tmp/meridian-instructions.XXXXXX)"
chmod 755 "$WORK"   # nginx's workers run unprivileged
. "$ROOT/Benchmarks/lib/processes.sh"
. "$ROOT/Benchmarks/lib/certs.sh"
. "$ROOT/Benchmarks/lib/nginx.sh"
. "$ROOT/Benchmarks/lib/callgrind.sh"
. "$ROOT/Benchmarks/lib/release.sh"

for tool in valgrind callgrind_control callgrind_annotate strip openssl curl python3 nginx h2load wrk; do
    command -v "$tool" >/dev/null || { log "$tool is needed (run.sh installs nginx-light and nghttp2-client)"; exit 1; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building meridian-gateway (release)"
    release_build meridian-gateway
fi
GATEWAY="${GATEWAY:-$(release_bin_path)/meridian-gateway}"

make_mesh_certs "$WORK/certs"
python3 "$HERE/make_tables.py" "$WORK" "127.0.0.1:$EAST_TUNNEL" "127.0.0.1:$WEST_TUNNEL"

start_nginx "127.0.0.1:$NGINX_PORT" "127.0.0.1:$NGINX_H2C_PORT http2"

# The instructions in a dump: all of them, and those of NIOHPACK's dynamic-table search (inclusive).
count() {
    local total search
    total="$(callgrind_total "$1")"
    search="$(callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null \
        | awk '/HeaderTableStorage.*(firstHeaderMatch|closestMatch)/ { gsub(",", "", $1); if ($1 + 0 > max) max = $1 + 0 } END { print max + 0 }')"
    echo "$total $search"
}

# measure NAME BINARY: prints per gateway and pair, per request, for HTTP/1.1 and h2c clients and a new connection per request
measure() {
    local name="$1"
    callgrind_pair "$name" "$2" "$WEST_LOCAL" "$WEST_TUNNEL" "$EAST_LOCAL" "$EAST_TUNNEL" "bench=127.0.0.1:$NGINX_PORT" \
        "bench-h2c=h2c://127.0.0.1:$NGINX_H2C_PORT"
    local east=$CALLGRIND_EAST west=$CALLGRIND_WEST
    for _ in $(seq 1 600); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.meridian' "http://127.0.0.1:$EAST_LOCAL/")" = 200 ] && break
        sleep 0.1
    done
    # Warm-up: connections, HPACK tables, lazily initialised state.
    h2load --h1 -c"$H1_CLIENTS" -n400 -H 'meridian-service: bench' "http://127.0.0.1:$EAST_LOCAL/" >/dev/null
    h2load -c"$H2_CLIENTS" -m"$H2_STREAMS" -n400 -H 'meridian-service: bench' "http://127.0.0.1:$EAST_LOCAL/" >/dev/null
    h2load --h1 -c"$H1_CLIENTS" -n400 -H 'meridian-service: bench-h2c' "http://127.0.0.1:$EAST_LOCAL/" >/dev/null
    local counts=()
    for client in h1 h2c close h2c-endpoint; do
        callgrind_zero "$east" "$west"
        local requests="$N"
        case "$client" in
            h1) h2load --h1 -c"$H1_CLIENTS" -n"$N" -H 'meridian-service: bench' "http://127.0.0.1:$EAST_LOCAL/" > "$WORK/$name-$client.txt" ;;
            h2c) h2load -c"$H2_CLIENTS" -m"$H2_STREAMS" -n"$N" -H 'meridian-service: bench' "http://127.0.0.1:$EAST_LOCAL/" > "$WORK/$name-$client.txt" ;;
            h2c-endpoint) h2load --h1 -c"$H1_CLIENTS" -n"$N" -H 'meridian-service: bench-h2c' "http://127.0.0.1:$EAST_LOCAL/" > "$WORK/$name-$client.txt" ;;
            close)
                wrk -t1 -c"$H1_CLIENTS" -d"${CLOSE_SECONDS}s" -H 'meridian-service: bench' -H 'Connection: close' \
                    "http://127.0.0.1:$EAST_LOCAL/" > "$WORK/$name-$client.txt"
                requests="$(awk '/requests in/ {print $1; exit}' "$WORK/$name-$client.txt")"
                grep -q "Non-2xx\|Socket errors" "$WORK/$name-$client.txt" \
                    && { log "$name $client: errors"; cat "$WORK/$name-$client.txt" >&2; exit 1; } ;;
        esac
        if [ "$client" != close ]; then
            grep -q "$N succeeded, 0 failed, 0 errored" "$WORK/$name-$client.txt" && grep -q "status codes: $N 2xx" "$WORK/$name-$client.txt" \
                || { log "$name $client: not every request succeeded"; cat "$WORK/$name-$client.txt" >&2; exit 1; }
        fi
        mv "$(callgrind_dump "$name" "$east")" "$WORK/$name.$client.east"
        mv "$(callgrind_dump "$name" "$west")" "$WORK/$name.$client.west"
        counts+=("$client $requests $(count "$WORK/$name.$client.east") $(count "$WORK/$name.$client.west")")
    done
    kill "$east" "$west"; wait "$east" "$west" 2>/dev/null || true
    python3 - "$name" "${counts[@]}" <<'PY'
import sys
name = sys.argv[1]
for item in sys.argv[2:]:
    client, n, *numbers = item.split()
    n = int(n)
    east, west = (int(numbers[0]), int(numbers[1])), (int(numbers[2]), int(numbers[3]))
    pair = (east[0] + west[0]) / n
    search = (east[1] + west[1]) / n
    print(f"{name:9} {client:12} east {east[0] / n / 1000:6.1f}k  west {west[0] / n / 1000:6.1f}k  pair {pair / 1000:6.1f}k "
          f"instructions per request; without HPACK's table search {(pair - search) / 1000:6.1f}k")
    label = {"h1": "HTTP/1.1", "h2c": "h2c", "close": "new connection per request",
             "h2c-endpoint": "HTTP/1.1, h2c endpoint"}[client]
    print(f"RESULT {name} {label} {pair:.0f}")
    print(f"RESULT {name} {label} without the table search {pair - search:.0f}")
PY
}

log "== instructions per 1 KiB request (callgrind; N=$N requests per client kind)"
callgrind_builds
