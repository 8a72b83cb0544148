import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic file writes for the gateway's data directory: a temporary file opened with its final mode (so a key is
/// never readable by others, not even briefly), written, synced, then renamed into place.
enum SecureFile {
    static func write(_ contents: String, to path: String, mode: mode_t) throws(GatewayError) {
        try write(Array(contents.utf8), to: path, mode: mode)
    }

    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(GatewayError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw GatewayError(.fileSystem, "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        _ = fchmod(fd, mode)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                systemWrite(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw GatewayError(.fileSystem, "cannot write \(temporary): \(reason)")
            }
            written += result
        }
        _ = fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw GatewayError(.fileSystem, "cannot rename \(temporary) to \(path): \(reason)")
        }
    }

    static func read(_ path: String) throws(GatewayError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw GatewayError(.fileSystem, "cannot read \(path): \(error.localizedDescription)")
        }
    }

    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    static func makeDirectory(_ path: String) throws(GatewayError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw GatewayError(.fileSystem, "cannot create directory \(path): \(error.localizedDescription)")
        }
    }

    static func path(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }
}

@inline(__always)
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Darwin)
    return Darwin.write(fd, buffer, count)
    #elseif canImport(Musl)
    return Musl.write(fd, buffer, count)
    #else
    return Glibc.write(fd, buffer, count)
    #endif
}
