#!/usr/bin/env bash
# The whole test suite: every target, against a real PostgreSQL, real TLS and real processes.
#
# The suites are run in groups, one group at a time: many of them time real network behaviour (failover in
# under a second, a handshake deadline, streams that must not be buffered), and on a small machine every suite
# of every target running at once starves them. Within a group Swift Testing runs tests in parallel; the
# end-to-end group, which starts whole meshes of processes, runs one test at a time.
#
#   Scripts/test.sh                 # build the tests once, run every group
#   Scripts/test.sh --skip-build    # reuse the last test build
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--skip-build" ]; then
    swift build --build-tests || exit 1
fi

failed=()
run() {
    local name="$1"; shift
    echo "=== $name"
    if ! swift test --skip-build "$@"; then failed+=("$name"); fi
}

run "model, YAML, routing, PKI, store" --filter 'MeridianModelTests|MeridianYAMLTests|MeridianRoutingTests|MeridianPKITests|MeridianStoreTests'
run "hub" --filter MeridianHubTests
# The 1 GiB uploads run in child processes (exit tests), each spawned from this process: the child inherits every
# socket open here at that moment (NIO does not mark accepted sockets close-on-exec), so a connection another suite's
# gateway closes stays open until the child exits, and that suite's client never sees the close. They run alone.
run "gateway" --filter 'MeridianGatewayTests|MeridianGatewayCommandTests' --skip GatewayLargeUploadTests
run "gateway large uploads (child processes)" --filter GatewayLargeUploadTests
run "end to end (one test at a time)" --filter EndToEndTests --no-parallel

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all test groups passed"
