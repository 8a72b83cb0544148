#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Error {
    /// The error in words, for a message about a file: for an error of Foundation's file API (a `CocoaError`) the
    /// system's reason (`No such file or directory`, `Permission denied`, `Is a directory`), else the error itself.
    ///
    /// Used instead of `localizedDescription`, which only corelibs Foundation has (the gateway links
    /// FoundationEssentials alone, see `Package.swift`).
    public var fileErrorDescription: String {
        guard let error = self as? CocoaError else { return String(describing: self) }
        if let posix = error.underlying as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        switch error.code {
        case .fileReadInapplicableStringEncoding: return "the file is not valid UTF-8"
        case .fileReadNoSuchFile, .fileNoSuchFile: return String(cString: strerror(ENOENT))
        case .fileReadNoPermission, .fileWriteNoPermission: return String(cString: strerror(EACCES))
        default: return "file error \(error.code.rawValue)"
        }
    }
}
