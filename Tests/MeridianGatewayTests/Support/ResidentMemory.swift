import Foundation

/// This process's memory as Linux reports it in `/proc/self/status`.
enum ResidentMemory {
    /// Resident set size now (`VmRSS`), in bytes; `nil` where `/proc` is not available.
    static var current: Int? { field("VmRSS") }
    /// Peak resident set size (`VmHWM`), in bytes.
    static var peak: Int? { field("VmHWM") }
    /// Prints glibc's `malloc_stats()` to standard error: per arena, the bytes taken from the system and the bytes
    /// in use (live heap, as opposed to pages the allocator keeps for reuse). For investigating only.
    static func printAllocatorStatistics() {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_stats") else { return }
        unsafeBitCast(symbol, to: (@convention(c) () -> Void).self)()
        #endif
    }

    private static func field(_ name: String) -> Int? {
        // `/proc` files report a size of 0, so read to the end rather than `String(contentsOfFile:)`.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/status") else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return nil }
        let status = String(decoding: data, as: UTF8.self)
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            let kilobytes = line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }
}

