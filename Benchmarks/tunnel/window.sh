#!/usr/bin/env bash
# One stream's throughput through the gateway pair at a real round-trip time, for each HTTP/2 window setting
# (`--http2-window`, `--http2-window-max`), uploads and downloads, each twice on the same connections (the first
# includes what an adaptive window takes to grow):
#
#   curl --HTTP/1.1--> east ==mTLS 1.3, HTTP/2==> delay_relay.py (RTT/2 each way) ==> west --HTTP/1.1--> sink.py
#
# The relay delays every byte of the tunnel connection by half the round-trip time in each direction and never
# stops reading (what is in flight is the throughput times the delay, as on a long link; this machine's kernel has no
# netem). The client and the sink talk to their gateway undelayed. A stream carries at most one HTTP/2 window per
# round trip, so the window over the RTT is the ceiling each figure is printed beside.
#
#   Benchmarks/tunnel/window.sh                       # RTTS="10 50 100" (ms) WINDOWS="1024 4096 16384" (KiB) MIB=64
#   RTTS=100 WINDOWS="1024 8192" MIB=128 SKIP_BUILD=1 Benchmarks/tunnel/window.sh
#   GATEWAY=/path/to/meridian-gateway ...             # a given binary instead of the release build
#   RECONNECT=1 ...                                   # cut the tunnel connection (restart the relay) before each
#                                                     # second transfer: the new connection's window starts where?
#   PORT_BASE=17000 ...                               # ports PORT_BASE + 1, 2, 80, 443, 444, 445 are used
#
# Needs openssl, curl, python3. Prints one line per run and a table at the end.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RTTS="${RTTS:-10 50 100}"
WINDOWS="${WINDOWS:-1024 4096 16384 1024:16384}"
MIB="${MIB:-64}"
PORT_BASE="${PORT_BASE:-17000}"
EAST_LOCAL=$((PORT_BASE + 1)); WEST_LOCAL=$((PORT_BASE + 2)); SINK=$((PORT_BASE + 80))
EAST_TUNNEL=$((PORT_BASE + 444)); WEST_TUNNEL=$((PORT_BASE + 443)); RELAY=$((PORT_BASE + 445))
WORK="$(mktemp -d /tmp/meridian-window.XXXXXX)"
. "$ROOT/Benchmarks/lib/processes.sh"
. "$ROOT/Benchmarks/lib/release.sh"

for tool in openssl curl python3; do command -v "$tool" >/dev/null || { log "$tool is needed"; exit 1; }; done

if [ -z "${GATEWAY:-}" ]; then
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        log "building meridian-gateway (release)"
        release_build meridian-gateway
    fi
    GATEWAY="$(release_bin_path)/meridian-gateway"
fi

. "$ROOT/Benchmarks/lib/certs.sh"
CERTS="$WORK/certs"
make_mesh_certs "$CERTS"
python3 "$ROOT/Benchmarks/proxy/make_tables.py" "$WORK" "127.0.0.1:$EAST_TUNNEL" "127.0.0.1:$RELAY"
head -c $((MIB * 1024 * 1024)) /dev/zero > "$WORK/upload.bin"

python3 "$HERE/sink.py" 127.0.0.1 "$SINK" & PIDS+=($!)
SINK_PID=$!

start_relay() {
    python3 "$HERE/delay_relay.py" "$RELAY" "127.0.0.1:$WEST_TUNNEL" "$(python3 -c "print($1 / 2)")" & RELAY_PID=$!
    PIDS+=("$RELAY_PID")
}

wait_serving() {
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.meridian' \
            "http://127.0.0.1:$EAST_LOCAL/")" = 200 ] && return 0
        sleep 0.1
    done
    log "the gateway pair did not serve; logs:"; cat "$WORK/east.log" "$WORK/west.log" >&2; exit 1
}

# With RECONNECT=1: the relay is restarted, which cuts the tunnel connection; the gateways connect again.
reconnect() {
    [ "${RECONNECT:-0}" = 1 ] || return 0
    kill "$RELAY_PID" 2>/dev/null; wait "$RELAY_PID" 2>/dev/null || true
    start_relay "$1"
    sleep 0.3
    wait_serving
}

start_pair() {
    local rtt=$1 window=$2 maximum=$3
    start_relay "$rtt"
    local common=(--trust-bundle "$CERTS/ca.pem" --trust-domain bench.local --threads 1 --access-log off
                  --metrics-listen off --log-level warning --http2-window "$window" --http2-window-max "$maximum")
    "$GATEWAY" gateway --cluster west --table "$WORK/west.json" --cert "$CERTS/west.pem" \
        --key "$CERTS/west-key.pem" "${common[@]}" --data-dir "$WORK/west" --local-listen "127.0.0.1:$WEST_LOCAL" \
        --tunnel-listen "127.0.0.1:$WEST_TUNNEL" --endpoint "bench=127.0.0.1:$SINK" > "$WORK/west.log" 2>&1 & PIDS+=($!)
    "$GATEWAY" gateway --cluster east --table "$WORK/east.json" --cert "$CERTS/east.pem" \
        --key "$CERTS/east-key.pem" "${common[@]}" --data-dir "$WORK/east" --local-listen "127.0.0.1:$EAST_LOCAL" \
        --tunnel-listen "127.0.0.1:$EAST_TUNNEL" > "$WORK/east.log" 2>&1 & PIDS+=($!)
    wait_serving
}

# MB/s (10^6 bytes) of one transfer through east, or "failed".
transfer() {
    local direction=$1 out
    if [ "$direction" = upload ]; then
        out=$(curl -s -o /dev/null -w '%{http_code} %{speed_upload}' -H 'Host: bench.meridian' \
            -T "$WORK/upload.bin" "http://127.0.0.1:$EAST_LOCAL/upload") || true
    else
        out=$(curl -s -o /dev/null -w '%{http_code} %{speed_download}' -H 'Host: bench.meridian' \
            "http://127.0.0.1:$EAST_LOCAL/bytes/$((MIB * 1024 * 1024))") || true
    fi
    set -- $out
    if [ "${1:-}" = 200 ]; then python3 -c "print(round($2 / 1e6, 1))"; else echo failed; fi
}

RESULTS="$WORK/results"
: > "$RESULTS"
for rtt in $RTTS; do
    for setting in $WINDOWS; do
        window=${setting%%:*}; maximum=${setting##*:}
        start_pair "$rtt" "$window" "$maximum"
        up1=$(transfer upload); reconnect "$rtt"; up2=$(transfer upload)
        down1=$(transfer download); reconnect "$rtt"; down2=$(transfer download)
        ceiling=$(python3 -c "print(round($maximum * 1024 / ($rtt / 1000) / 1e6, 1))")
        label="$window KiB"; [ "$maximum" != "$window" ] && label="$window -> $maximum KiB"
        log "rtt=${rtt}ms window=$label upload=${up1},${up2}MB/s download=${down1},${down2}MB/s (largest window/RTT ${ceiling} MB/s)"
        echo "$rtt|$label|$up1|$up2|$down1|$down2|$ceiling" >> "$RESULTS"
        for pid in "${PIDS[@]:1}"; do kill "$pid" 2>/dev/null || true; done
        wait "${PIDS[@]:1}" 2>/dev/null || true
        PIDS=("$SINK_PID")
    done
done

printf '\n| RTT | window | upload MB/s, first / second | download MB/s, first / second | largest window / RTT, MB/s |\n'
printf '| ---: | ---: | ---: | ---: | ---: |\n'
while IFS='|' read -r rtt label up1 up2 down1 down2 ceiling; do
    printf '| %s ms | %s | %s / %s | %s / %s | %s |\n' "$rtt" "$label" "$up1" "$up2" "$down1" "$down2" "$ceiling"
done < "$RESULTS"
if [ "${RECONNECT:-0}" = 1 ]; then
    printf '\n%s MiB per transfer, one stream at a time, two uploads then two downloads; the tunnel connection cut before each second one.\n' "$MIB"
else
    printf '\n%s MiB per transfer, one stream at a time, two uploads then two downloads on the same connections.\n' "$MIB"
fi
