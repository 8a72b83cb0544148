# Sourced by the benchmark scripts, after they set WORK (their scratch folder): `log` (to standard error), the
# processes they start in PIDS, and an EXIT trap that stops those and removes WORK (kept with KEEP=1).
PIDS=()

log() { printf '%s\n' "$*" >&2; }

cleanup() {
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
