# Sourced by the instruction-counting scripts (after processes.sh and certs.sh, with WORK set and the tables written to
# WORK/east.json and WORK/west.json).
#
# callgrind_pair NAME BINARY WEST_LOCAL WEST_TUNNEL EAST_LOCAL EAST_TUNNEL ENDPOINT...: starts west (serving each ENDPOINT,
# `SERVICE=HOST:PORT` or `SERVICE=h2c://HOST:PORT`) and east, each under valgrind's callgrind, from a copy of BINARY without debug information
# (valgrind chokes on the release binary's), one event loop thread, no access log and no metrics listener; sets
# CALLGRIND_EAST and CALLGRIND_WEST to their process ids and adds them to PIDS.
callgrind_pair() {
    local name=$1 binary="$WORK/$1.bin" west_local=$3 west_tunnel=$4 east_local=$5 east_tunnel=$6 endpoints=() endpoint
    for endpoint in "${@:7}"; do endpoints+=(--endpoint "$endpoint"); done
    strip -g -o "$binary" "$2"
    local common=(--trust-bundle "$WORK/certs/ca.pem" --trust-domain bench.local --threads 1 --access-log off --metrics-listen off --log-level warning)
    # The allocator's tunable the gateway would start itself again with (MallocTuning), set here for both builds: a
    # gateway that started itself again would leave callgrind (which does not follow exec unless told).
    export GLIBC_TUNABLES="${GLIBC_TUNABLES-glibc.malloc.tcache_count=127}"
    valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.west.%p" "$binary" gateway --cluster west --table "$WORK/west.json" \
        --cert "$WORK/certs/west.pem" --key "$WORK/certs/west-key.pem" "${common[@]}" --data-dir "$WORK/$name-west" \
        --local-listen "127.0.0.1:$west_local" --tunnel-listen "127.0.0.1:$west_tunnel" "${endpoints[@]}" \
        > "$WORK/$name-west.log" 2>&1 &
    CALLGRIND_WEST=$!
    valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.east.%p" "$binary" gateway --cluster east --table "$WORK/east.json" \
        --cert "$WORK/certs/east.pem" --key "$WORK/certs/east-key.pem" "${common[@]}" --data-dir "$WORK/$name-east" \
        --local-listen "127.0.0.1:$east_local" --tunnel-listen "127.0.0.1:$east_tunnel" > "$WORK/$name-east.log" 2>&1 &
    CALLGRIND_EAST=$!
    PIDS+=("$CALLGRIND_WEST" "$CALLGRIND_EAST")
}

# callgrind_zero PID...: starts counting again from zero in each process.
callgrind_zero() {
    local pid
    for pid in "$@"; do callgrind_control -z "$pid" >/dev/null 2>&1; done
}

# callgrind_dump NAME PID: dumps what PID (started by callgrind_pair as NAME) counted since the last zero and prints the
# dump's path. The dump is written once the process next checks for commands, so this waits for it (up to 30 s).
callgrind_dump() {
    local name=$1 pid=$2 dump="" before
    before="$(ls "$WORK"/"$name".*."$pid".* 2>/dev/null | wc -l)"
    callgrind_control -d "$pid" >/dev/null 2>&1
    for _ in $(seq 1 300); do
        if [ "$(ls "$WORK"/"$name".*."$pid".* 2>/dev/null | wc -l)" -gt "$before" ]; then
            dump="$(ls -t "$WORK"/"$name".*."$pid".* | head -1)"
            break
        fi
        sleep 0.1
    done
    [ -n "$dump" ] || { log "no callgrind dump from $pid"; return 1; }
    echo "$dump"
}

# callgrind_total DUMP: the instructions the dump counted.
callgrind_total() {
    awk '/^(summary|totals):/ {print $2; exit}' "$1"
}

# callgrind_builds: runs the script's `measure NAME BINARY` for GATEWAY (as `gateway`) and, when BASELINE is set, for
# BASELINE (as `baseline`), each into WORK/NAME.out (not in a pipeline: measure adds its processes to PIDS), and prints
# their lines but the `RESULT LABEL VALUE` ones; with both, then the ratio of the two builds' VALUEs for each LABEL.
callgrind_builds() {
    local name
    for name in gateway baseline; do
        local binary="$GATEWAY"
        if [ "$name" = baseline ]; then
            [ -n "${BASELINE:-}" ] || return 0
            binary="$BASELINE"
        fi
        measure "$name" "$binary" > "$WORK/$name.out"
        grep -v '^RESULT' "$WORK/$name.out"
    done
    python3 - "$WORK/gateway.out" "$WORK/baseline.out" <<'PY'
import sys
def results(path):
    return [(line.split(" ", 2)[2].rsplit(" ", 1)[0], float(line.rsplit(" ", 1)[1]))
            for line in open(path) if line.startswith("RESULT ")]
gateway, baseline = results(sys.argv[1]), results(sys.argv[2])
print("gateway / baseline, pair: " + ", ".join(f"{label} {g / b:.3f}" for (label, g), (_, b) in zip(gateway, baseline)))
PY
}
