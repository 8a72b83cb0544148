#if canImport(Glibc)
import Glibc
#endif

/// glibc's per-thread cache of freed memory (tcache), sized for a proxy: the gateway starts itself again, once, with
/// `GLIBC_TUNABLES=glibc.malloc.tcache_count=127` unless that variable is already set (to anything, even empty: the
/// operator's choice stands).
///
/// glibc keeps at most 7 freed chunks of each size per thread by default. A gateway allocates about 16 objects per
/// request, and with tens of requests in flight each size's 7 are soon used up: the rest go through malloc's slow
/// paths (`_int_malloc`, `_int_free`, consolidation), about 4 % of each gateway's CPU time under `wrk -c50` (perf),
/// against about 1.2 % with 127 (glibc's largest value before 2.30; docs/benchmarks.md, the twenty-first round).
/// The cache holds only chunks of up to 1,032 bytes, so at most about 127 × 64 size classes of them per thread, and in
/// practice the few sizes the data plane uses. glibc reads its tunables only when a process starts, hence the new
/// start: `execv` of this same executable with the same arguments keeps the process ID, the open files and the
/// signal dispositions; nothing has run yet but argument parsing.
enum MallocTuning {
    static let variable = "GLIBC_TUNABLES"
    static let tunables = "glibc.malloc.tcache_count=127"

    /// Starts this process again with ``tunables`` when `GLIBC_TUNABLES` is unset (glibc only); returns if it cannot,
    /// or need not.
    static func restartWithTunablesIfUnset() {
        #if canImport(Glibc)
        guard getenv(variable) == nil else { return }
        guard setenv(variable, tunables, 1) == 0 else { return }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv(variable)   // (`execv` failed: go on as started)
        #endif
    }
}
