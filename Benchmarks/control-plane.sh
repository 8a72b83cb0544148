#!/usr/bin/env bash
# Control-plane push convergence: N simulated gateways (real mTLS identities, real blocking queries) watch one
# hub process on its embedded PostgreSQL; one cluster changes; how long until every gateway has the new table?
# Prints p50/p99 per N and the ratio to a plain API round trip measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
. Benchmarks/lib/release.sh
release_build meridian
ulimit -n 65536 2>/dev/null || true
"$(release_bin_path)/meridian" dev bench-control --gateways "${GATEWAYS:-100,250,500}" --rounds "${ROUNDS:-5}"
