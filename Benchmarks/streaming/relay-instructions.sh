#!/usr/bin/env bash
# Instructions the gateway pair executes to relay a token stream, counted by valgrind's callgrind (which, unlike CPU
# time, does not move with the machine's load):
#
#   client --HTTP/1.1--> east --mTLS 1.3, HTTP/2--> west --HTTP/1.1--> meridian dev fake-model (SSE, one event a token)
#
# Both gateways run under callgrind. R sequential streaming requests of 1 token, then R of 51 tokens, TOKEN_MS apart
# (5 ms: each event is read on its own, as at a model server's pace; with less, callgrind's slowness batches events
# and the counts move). Prints, per gateway and for the pair, the instructions per request of 1 token and per token
# after the first (the difference over 50 tokens).
#
#   Benchmarks/streaming/relay-instructions.sh                       # the release build
#   GATEWAY=/path/a BASELINE=/path/b Benchmarks/streaming/relay-instructions.sh   # two builds, same run, and the ratio
#
# valgrind chokes on the release binary's debug information: the script strips a copy (strip -g) first.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
R="${R:-60}"
TOKEN_MS="${TOKEN_MS:-5}"
PORT_BASE="${PORT_BASE:-17000}"
MODEL_PORT=$((PORT_BASE + 80)); EAST_LOCAL=$((PORT_BASE + 1)); EAST_TUNNEL=$((PORT_BASE + 444)); WEST_TUNNEL=$((PORT_BASE + 443))
WORK="$(mktemp -d /tmp/meridian-relay-instructions.XXXXXX)"
. "$ROOT/Benchmarks/lib/processes.sh"
. "$ROOT/Benchmarks/lib/certs.sh"
. "$ROOT/Benchmarks/lib/tables.sh"
. "$ROOT/Benchmarks/lib/callgrind.sh"
. "$ROOT/Benchmarks/lib/release.sh"

for tool in valgrind callgrind_control strip openssl curl python3; do
    command -v "$tool" >/dev/null || { log "$tool is needed"; exit 1; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building meridian and meridian-gateway (release)"
    release_build meridian meridian-gateway
fi
BIN="$(release_bin_path)"
GATEWAY="${GATEWAY:-$BIN/meridian-gateway}"

make_mesh_certs "$WORK/certs"
make_chat_tables "$WORK" "127.0.0.1:$EAST_TUNNEL" "127.0.0.1:$WEST_TUNNEL" relay-instructions

"$BIN/meridian" dev fake-model --listen "127.0.0.1:$MODEL_PORT" --cluster west --model chat --ttft-ms 0 --token-ms "$TOKEN_MS" \
    --tokens 1 > "$WORK/fake-model.log" 2>&1 &
PIDS+=($!)

stream() {   # stream TOKENS COUNT: COUNT sequential streaming requests of TOKENS tokens through east
    python3 - "$EAST_LOCAL" "$1" "$2" <<'PY'
import http.client, json, sys
port, tokens, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
body = json.dumps({"model": "chat", "stream": True, "max_tokens": tokens, "messages": [{"role": "user", "content": "hi"}]})
headers = {"content-type": "application/json", "accept": "text/event-stream", "host": "chat.meridian"}
for _ in range(count):
    connection.request("POST", "/v1/chat/completions", body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status != 200 or data.count(b"data:") != tokens + 1:
        raise SystemExit(f"unexpected answer {response.status} {data[:200]!r}")
PY
}

# measure NAME BINARY: prints "NAME east/west/pair per request, per token"
measure() {
    local name="$1"
    callgrind_pair "$name" "$2" "$((PORT_BASE + 2))" "$WEST_TUNNEL" "$EAST_LOCAL" "$EAST_TUNNEL" "chat=127.0.0.1:$MODEL_PORT"
    local east=$CALLGRIND_EAST west=$CALLGRIND_WEST
    for _ in $(seq 1 600); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: chat.meridian' -d '{"stream":true,"max_tokens":1}' \
            "http://127.0.0.1:$EAST_LOCAL/v1/chat/completions")" = 200 ] && break
        sleep 0.1
    done
    stream 1 20; stream 51 4   # warm-up: connections, HPACK tables, lazily initialised state
    local counts=()
    for tokens in 1 51; do
        callgrind_zero "$east" "$west"
        stream "$tokens" "$R"
        for pid in "$east" "$west"; do
            counts+=("$(callgrind_total "$(callgrind_dump "$name" "$pid")")")
        done
    done
    kill "$east" "$west"; wait "$east" "$west" 2>/dev/null || true
    python3 - "$name" "$R" "${counts[@]}" <<'PY'
import sys
name, r = sys.argv[1], int(sys.argv[2])
e1, w1, e51, w51 = (int(x) for x in sys.argv[3:7])
per_request = {"east": e1 / r, "west": w1 / r}
per_token = {"east": (e51 - e1) / r / 50, "west": (w51 - w1) / r / 50}
for who in ("east", "west"):
    print(f"{name:9} {who}: {per_request[who] / 1000:7.1f}k instructions per 1-token request, {per_token[who] / 1000:6.1f}k per token")
pair_request, pair_token = sum(per_request.values()), sum(per_token.values())
print(f"{name:9} pair: {pair_request / 1000:7.1f}k instructions per 1-token request, {pair_token / 1000:6.1f}k per token")
print(f"RESULT {name} per 1-token request {pair_request:.0f}")
print(f"RESULT {name} per token {pair_token:.0f}")
PY
}

log "== instructions to relay a token stream (callgrind; R=$R requests each, tokens $TOKEN_MS ms apart)"
callgrind_builds
