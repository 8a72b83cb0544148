#!/usr/bin/env bash
# Time to the first byte of a token stream, straight from a model server and through the Meridian gateway pair:
#
#   client --HTTP/1.1--> east --mTLS 1.3, HTTP/2--> west --HTTP/1.1--> meridian dev fake-model
#                                                   (SSE: 4 events 5 ms apart, no time to first token)
#
# N sequential streaming requests to each (interleaved, keep-alive), p50/p99 of each and the difference, which is
# what the two gateways add before the first event reaches the client (issue #5: "not more than 1 ms"); also
# through west's local listener alone (one gateway, no tunnel), the time to the stream's last byte, and, as the
# same-run baseline, through an HAProxy pair in the same topology (HTTP mode, the mTLS 1.3 h2 hop between them) when
# `haproxy` is installed (HAPROXY=0 skips it).
#
#   Benchmarks/streaming/first-byte.sh            # N=200
#   N=1000 SKIP_BUILD=1 Benchmarks/streaming/first-byte.sh
#   PORT_BASE=26000 ...                           # ports PORT_BASE + 1, 2, 3, 80, 443, 444, 445 are used
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
N="${N:-200}"
PORT_BASE="${PORT_BASE:-16000}"
MODEL_PORT=$((PORT_BASE + 80))
EAST_LOCAL=$((PORT_BASE + 1)); WEST_LOCAL=$((PORT_BASE + 2))
EAST_TUNNEL=$((PORT_BASE + 444)); WEST_TUNNEL=$((PORT_BASE + 443))
HAPROXY_LOCAL=$((PORT_BASE + 3)); HAPROXY_TUNNEL=$((PORT_BASE + 445))
THREADS="${THREADS:-1}"
WORK="$(mktemp -d /tmp/meridian-first-byte.XXXXXX)"
. "$ROOT/Benchmarks/lib/processes.sh"
. "$ROOT/Benchmarks/lib/release.sh"

command -v openssl >/dev/null || { log "openssl is needed"; exit 1; }
command -v curl >/dev/null || { log "curl is needed"; exit 1; }

# --- build -----------------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building meridian and meridian-gateway (release)"
    release_build meridian meridian-gateway
fi
BIN="$(release_bin_path)"
MERIDIAN="$BIN/meridian"            # the fake model server (meridian dev fake-model)
GATEWAY="${GATEWAY:-$BIN/meridian-gateway}"   # GATEWAY=path/to/binary compares another build

# --- certificates (openssl): a mesh CA and SPIFFE gateway certificates for east and west ---------------
. "$ROOT/Benchmarks/lib/certs.sh"
. "$ROOT/Benchmarks/lib/tables.sh"
. "$ROOT/Benchmarks/lib/haproxy.sh"
CERTS="$WORK/certs"
make_mesh_certs "$CERTS"

# --- static tables: east sends `chat` to west; west serves it from the fake model --------------------------
make_chat_tables "$WORK" "127.0.0.1:$EAST_TUNNEL" "127.0.0.1:$WEST_TUNNEL" first-byte

# --- the fake model server (one token, no time to first token) and the pair ------------------------------
"$MERIDIAN" dev fake-model --listen "127.0.0.1:$MODEL_PORT" --cluster west --model chat --ttft-ms 0 --token-ms 5 --tokens 4 \
    > "$WORK/fake-model.log" 2>&1 &
PIDS+=($!)
common=(--trust-bundle "$CERTS/ca.pem" --trust-domain bench.local --threads "$THREADS" --access-log off --metrics-listen off --log-level warning)
"$GATEWAY" gateway --cluster west --table "$WORK/west.json" --cert "$CERTS/west.pem" --key "$CERTS/west-key.pem" "${common[@]}" \
    --data-dir "$WORK/west" --local-listen "127.0.0.1:$WEST_LOCAL" --tunnel-listen "127.0.0.1:$WEST_TUNNEL" \
    --endpoint "chat=127.0.0.1:$MODEL_PORT" > "$WORK/west.log" 2>&1 &
PIDS+=($!)
"$GATEWAY" gateway --cluster east --table "$WORK/east.json" --cert "$CERTS/east.pem" --key "$CERTS/east-key.pem" "${common[@]}" \
    --data-dir "$WORK/east" --local-listen "127.0.0.1:$EAST_LOCAL" --tunnel-listen "127.0.0.1:$EAST_TUNNEL" \
    > "$WORK/east.log" 2>&1 &
PIDS+=($!)

ready() {
    for _ in $(seq 1 200); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' -H "Host: $2" \
            -d '{"stream":true,"max_tokens":1}' "http://127.0.0.1:$1/v1/chat/completions")" = 200 ]; then return 0; fi
        sleep 0.05
    done
    log "nothing answers on port $1 (logs in $WORK; KEEP=1 keeps them)"; cat "$WORK"/*.log >&2; return 1
}
ready "$MODEL_PORT" localhost
ready "$EAST_LOCAL" chat.meridian
ready "$WEST_LOCAL" chat.meridian

# --- the baseline: an HAProxy pair, one thread each, as in Benchmarks/proxy/run.sh, with `option http-no-delay` ----
# (without it HAProxy holds the small SSE chunks, and the first event reaches the client with the last)
HAPROXY_ARG=()
if [ "${HAPROXY:-1}" = 1 ] && command -v haproxy >/dev/null; then
    haproxy_pair_configs "$WORK" "$CERTS" "$HAPROXY_LOCAL" "$HAPROXY_TUNNEL" "127.0.0.1:$MODEL_PORT" "option http-no-delay"
    haproxy -db -f "$WORK/haproxy-west.cfg" > "$WORK/haproxy-west.log" 2>&1 &
    PIDS+=($!)
    haproxy -db -f "$WORK/haproxy-east.cfg" > "$WORK/haproxy-east.log" 2>&1 &
    PIDS+=($!)
    ready "$HAPROXY_LOCAL" chat.meridian
    HAPROXY_ARG=("$HAPROXY_LOCAL")
else
    log "haproxy not installed (or HAPROXY=0): no same-run baseline"
fi

log "== time to first SSE byte, N=$N sequential requests each (gateway threads: $THREADS)"
python3 "$HERE/first_byte.py" "$MODEL_PORT" "$EAST_LOCAL" "$N" "$WEST_LOCAL" "${HAPROXY_ARG[@]}"
