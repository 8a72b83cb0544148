#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// File access for key material: private files are created with mode 0600 from the first byte on.
enum PKIFiles {
    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    static func read(_ path: String) throws(MeshPKIError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw MeshPKIError(.fileSystem, "cannot read \(path): \(error.fileErrorDescription)")
        }
    }

    /// Creates `directory` (mode 0700) and its parents if they do not exist.
    static func makeDirectory(_ directory: String) throws(MeshPKIError) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw MeshPKIError(.fileSystem, "cannot create directory \(directory): \(error.fileErrorDescription)")
        }
    }

    /// Writes `contents` to `path` atomically (a temporary file, then rename) with the given mode.
    ///
    /// The temporary file is opened with `mode` so a private key is never readable by others, not even briefly.
    static func write(_ contents: String, to path: String, mode: mode_t) throws(MeshPKIError) {
        try write(Array(contents.utf8), to: path, mode: mode)
    }

    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(MeshPKIError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw MeshPKIError(.fileSystem, "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        // umask may have removed bits; it can never have added any, but set the mode exactly anyway.
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
                throw MeshPKIError(.fileSystem, "cannot write \(temporary): \(reason)")
            }
            written += result
        }
        if fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(temporary)
            throw MeshPKIError(.fileSystem, "cannot sync \(temporary): \(reason)")
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw MeshPKIError(.fileSystem, "cannot rename \(temporary) to \(path): \(reason)")
        }
    }

    static func remove(_ path: String) throws(MeshPKIError) {
        guard exists(path) else { return }
        guard unlink(path) == 0 else {
            throw MeshPKIError(.fileSystem, "cannot remove \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func move(_ from: String, to: String) throws(MeshPKIError) {
        guard rename(from, to) == 0 else {
            throw MeshPKIError(.fileSystem, "cannot rename \(from) to \(to): \(String(cString: strerror(errno)))")
        }
    }
}

/// `write(2)`, named apart from `FileHandle.write` and friends.
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

/// Atomic, mode-exact file writes (temporary file opened with its final mode, written, synced, renamed), for
/// key material and other state a component keeps on disk.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(MeshPKIError) {
        try PKIFiles.write(bytes, to: path, mode: mode)
    }
}
