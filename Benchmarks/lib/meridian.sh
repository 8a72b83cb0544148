# Sourced by the benchmark scripts (after processes.sh, with WORK set and the certificates of make_mesh_certs in
# WORK/certs). start_meridian_pair NAME BINARY PORT_BASE: writes the pair's tables into WORK/NAME and starts, from
# BINARY, west (local listener PORT_BASE+2, tunnel PORT_BASE+443, serving `bench` from nginx on 127.0.0.1:18080) and
# east (local listener PORT_BASE+1, tunnel PORT_BASE+444), one event loop each, no access log, no metrics listener,
# logs in WORK/NAME-{east,west}.log; sets PAIR_EAST and PAIR_WEST to their process ids and adds them to PIDS.
start_meridian_pair() {
    local name=$1 binary=$2 base=$3 dir="$WORK/$1"
    mkdir -p "$dir"
    python3 "$ROOT/Benchmarks/proxy/make_tables.py" "$dir" "127.0.0.1:$((base + 444))" "127.0.0.1:$((base + 443))"
    local common=(--trust-bundle "$WORK/certs/ca.pem" --trust-domain bench.local --threads 1 --access-log off --metrics-listen off
                  --log-level warning)
    "$binary" gateway --cluster west --table "$dir/west.json" --cert "$WORK/certs/west.pem" --key "$WORK/certs/west-key.pem" \
        "${common[@]}" --data-dir "$dir/west" --local-listen "127.0.0.1:$((base + 2))" --tunnel-listen "127.0.0.1:$((base + 443))" \
        --endpoint bench=127.0.0.1:18080 > "$WORK/$name-west.log" 2>&1 &
    PAIR_WEST=$!; PIDS+=("$PAIR_WEST")
    "$binary" gateway --cluster east --table "$dir/east.json" --cert "$WORK/certs/east.pem" --key "$WORK/certs/east-key.pem" \
        "${common[@]}" --data-dir "$dir/east" --local-listen "127.0.0.1:$((base + 1))" --tunnel-listen "127.0.0.1:$((base + 444))" \
        > "$WORK/$name-east.log" 2>&1 &
    PAIR_EAST=$!; PIDS+=("$PAIR_EAST")
}
