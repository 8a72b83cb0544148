# Sourced by the benchmark scripts (with ROOT set): how they build the release binaries, as README.md says to build
# the gateway for production. `-enforce-exclusivity=unchecked` leaves out the run-time exclusivity checks of every
# module, swift-nio's among them (the gateway's own module leaves them out in any release build, Package.swift):
# each `swift_beginAccess` on a class's stored property cost about 110 instructions per request in the gateway's code
# and about as many in NIO's, 5-7 % of the pair's instructions (docs/benchmarks.md, the sixteenth round). The
# compile-time checks stay, and debug builds, which every test runs, keep the run-time ones. `--static-swift-stdlib`
# links the Swift runtime into the binary, as for production (README.md), and valgrind runs only that build: under
# callgrind, the dynamically linked one dies in libdispatch's start-up (valgrind's own SIGSEGV).
RELEASE_FLAGS=(-c release --static-swift-stdlib -Xswiftc -enforce-exclusivity=unchecked)

# release_build PRODUCT...: builds each product (release, RELEASE_FLAGS), output to standard error.
release_build() {
    local product
    for product in "$@"; do (cd "$ROOT" && swift build "${RELEASE_FLAGS[@]}" --product "$product" >&2); done
}

# release_bin_path: where release_build puts the binaries.
release_bin_path() {
    (cd "$ROOT" && swift build "${RELEASE_FLAGS[@]}" --show-bin-path)
}
