#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel
import MeridianPKI

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
        do {
            try AtomicFile.write(bytes, to: path, mode: mode)
        } catch {
            throw GatewayError(.fileSystem, error.message)
        }
    }

    static func read(_ path: String) throws(GatewayError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw GatewayError(.fileSystem, "cannot read \(path): \(error.fileErrorDescription)")
        }
    }

    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    static func makeDirectory(_ path: String) throws(GatewayError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw GatewayError(.fileSystem, "cannot create directory \(path): \(error.fileErrorDescription)")
        }
    }

    static func path(_ directory: String, _ name: String) -> String {
        directory.appendingPath(component: name)
    }
}
