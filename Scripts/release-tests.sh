#!/usr/bin/env bash
# The gateway's tests against a release build: the build production runs, with Package.swift's release-only flags
# for the data plane (no run-time exclusivity checks; lexical lifetimes off, so an object may go at its last use).
# `Scripts/test.sh`, which CI runs, tests debug builds; run this after changing those flags or code that holds
# pointers into objects. The test targets themselves are compiled unoptimized (Package.swift, `gatewayTestSettings`).
# Its own build folder (a first build takes about half an hour on two cores).
#
#   Scripts/release-tests.sh                 # build, then the gateway groups
#   Scripts/release-tests.sh --skip-build    # reuse the last build
set -uo pipefail
cd "$(dirname "$0")/.."
SCRATCH="${SCRATCH:-.build-release-tests}"
FLAGS=(-c release --scratch-path "$SCRATCH" -Xswiftc -enable-testing)

if [ "${1:-}" != "--skip-build" ]; then
    swift build "${FLAGS[@]}" --build-tests || exit 1
fi
failed=()
run() {
    local name="$1"; shift
    echo "=== $name (release)"
    if ! swift test "${FLAGS[@]}" --skip-build "$@"; then failed+=("$name"); fi
}
run "gateway" --filter 'MeridianGatewayTests|MeridianGatewayCommandTests' --skip GatewayLargeUploadTests
run "gateway large uploads (child processes)" --filter GatewayLargeUploadTests
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "the gateway's groups passed against the release build"
