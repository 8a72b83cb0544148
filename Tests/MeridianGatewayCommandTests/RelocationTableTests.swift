#if canImport(Glibc)
import Glibc
#endif
@testable import MeridianGatewayCommand
import Testing

/// The relocation table of the running executable (this test process, a position-independent executable) is found
/// inside a read-only mapping of the executable's file, and its whole pages are released.
@Suite("Relocation table")
struct RelocationTableTests {
    #if canImport(Glibc)
    /// The lines of `/proc/self/maps`: address range, permissions and path.
    static func mappings() throws -> [(range: Range<UInt>, permissions: String, path: String)] {
        let file = try #require(fopen("/proc/self/maps", "r"))
        defer { fclose(file) }
        var result: [(Range<UInt>, String, String)] = []
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard fields.count >= 2 else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16) else { continue }
            let path = fields.count >= 6 ? fields[5...].joined(separator: " ") : ""
            result.append((start..<end, String(fields[1]), path))
        }
        return result
    }

    @Test("the table lies in a read-only mapping of the executable, and its whole pages are released")
    func releases() throws {
        let range = try #require(RelocationTable.residentRange())
        #expect(!range.isEmpty)
        var executable = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &executable, executable.count - 1)
        try #require(length > 0)
        let executablePath = String(decoding: executable.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let mapping = try #require(try Self.mappings().first { $0.range.contains(range.lowerBound) })
        #expect(mapping.range.upperBound >= range.upperBound)
        #expect(!mapping.permissions.contains("w"))
        #expect(mapping.path == executablePath)

        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let released = RelocationTable.releaseResidentPages()
        #expect(released % pageSize == 0)
        #expect(released <= range.count && released > range.count - 2 * pageSize)
    }
    #endif
}
