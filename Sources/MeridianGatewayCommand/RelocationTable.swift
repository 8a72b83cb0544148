#if canImport(Glibc)
import Glibc
#endif

/// The dynamic relocation table (`.rela.dyn`) of the running executable, which the dynamic loader reads once, before
/// `main`, to relocate the position-independent executable, and never again.
///
/// Its pages are read-only and file-backed (the table lies in a read-only `PT_LOAD` segment of the executable), so
/// they are never dirty: after ``releaseResidentPages()`` the kernel would read them back from the file if anything
/// touched them again, as it does after reclaiming them under memory pressure, which it may do at any time. Of a
/// static-stdlib gateway, the table is 2.2 MB of resident memory that no code reads after start.
enum RelocationTable {
    /// Drops the whole pages of the table from this process's resident memory (`madvise(MADV_DONTNEED)`); Linux
    /// (glibc) only.
    ///
    /// - Returns: the bytes released, 0 when there is nothing to release (not glibc, no table, or the table is not
    ///   inside a read-only segment of the executable).
    @discardableResult
    static func releaseResidentPages() -> Int {
        #if canImport(Glibc)
        guard let range = residentRange() else { return 0 }
        let pageSize = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + pageSize - 1) & ~(pageSize - 1)
        let end = range.upperBound & ~(pageSize - 1)
        guard end > start, let address = UnsafeMutableRawPointer(bitPattern: start) else { return 0 }
        guard madvise(address, Int(end - start), MADV_DONTNEED) == 0 else { return 0 }
        return Int(end - start)
        #else
        return 0
        #endif
    }

    #if canImport(Glibc)
    /// The run-time addresses of the table, from the executable's program headers (found through the auxiliary vector)
    /// and its dynamic section (`DT_RELA`, `DT_RELASZ`); nil unless they lie inside one read-only `PT_LOAD` segment.
    static func residentRange() -> Range<UInt>? {
        guard let (phdrAddress, phdrCount) = programHeaders(),
              let headers = UnsafePointer<Elf64_Phdr>(bitPattern: phdrAddress) else { return nil }
        let segments = UnsafeBufferPointer(start: headers, count: phdrCount)
        // The load bias: where the program headers are, less where the file says they are.
        guard let phdr = segments.first(where: { $0.p_type == UInt32(PT_PHDR) }) else { return nil }
        let bias = phdrAddress &- UInt(phdr.p_vaddr)
        guard let dynamic = segments.first(where: { $0.p_type == UInt32(PT_DYNAMIC) }),
              var entry = UnsafePointer<Elf64_Dyn>(bitPattern: bias &+ UInt(dynamic.p_vaddr)) else { return nil }
        var table: UInt = 0
        var size: UInt = 0
        while entry.pointee.d_tag != Int64(DT_NULL) {
            switch entry.pointee.d_tag {
            case Int64(DT_RELA): table = UInt(entry.pointee.d_un.d_ptr)
            case Int64(DT_RELASZ): size = UInt(entry.pointee.d_un.d_val)
            default: break
            }
            entry += 1
        }
        guard table != 0, size > 0 else { return nil }
        // glibc rewrites the address in place when it relocates a position-independent executable; a loader that
        // does not leaves the address in the file, below the load bias.
        let start = table >= bias ? table : table &+ bias
        let range = start..<(start &+ size)
        let inReadOnlySegment = segments.contains { segment in
            guard segment.p_type == UInt32(PT_LOAD), segment.p_flags & UInt32(PF_W) == 0 else { return false }
            let segmentStart = bias &+ UInt(segment.p_vaddr)
            return segmentStart <= range.lowerBound && range.upperBound <= segmentStart &+ UInt(segment.p_filesz)
        }
        return inReadOnlySegment ? range : nil
    }

    /// `AT_PHDR` and `AT_PHNUM` of the auxiliary vector, read from `/proc/self/auxv`.
    static func programHeaders() -> (address: UInt, count: Int)? {
        let fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var vector = [UInt](repeating: 0, count: 128)
        let bytes = vector.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard bytes > 0 else { return nil }
        var address: UInt = 0
        var count = 0
        for index in stride(from: 0, to: bytes / MemoryLayout<UInt>.size - 1, by: 2) {
            switch vector[index] {
            case UInt(AT_PHDR): address = vector[index + 1]
            case UInt(AT_PHNUM): count = Int(vector[index + 1])
            default: break
            }
        }
        return address != 0 && count > 0 ? (address, count) : nil
    }
    #endif
}
