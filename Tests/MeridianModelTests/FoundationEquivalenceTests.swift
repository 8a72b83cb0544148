import Foundation
import MeridianModel
import Testing

/// The plain-Swift replacements of the corelibs Foundation calls the gateway no longer links give Foundation's
/// results (this test target links corelibs Foundation to compare).
@Suite("Replacements of corelibs Foundation calls")
struct FoundationEquivalenceTests {
    static let texts = [
        "", " ", "x", "\t a b \t", "\u{3000}x\u{00A0}", "\n x \n", " \u{301}x", "x \u{301}", "\u{200B}a\u{200B}",
        "\u{85}q\u{2028}", "\r\nfoo\u{2029}", "\u{1F600} ", "é ", " https://hub-a:8443 ", "\u{180E}x\u{FEFF}",
    ]

    /// Every scalar of the Basic Multilingual Plane (where every blank and line break of Unicode is), and a sample
    /// of the planes above it.
    static let scalars: [Unicode.Scalar] = (Array(UInt32(0)...0xFFFF) + Array(stride(from: UInt32(0x10000), through: 0x10FFFF, by: 251)))
        .compactMap(Unicode.Scalar.init)

    @Test("trimmingWhitespace() is trimmingCharacters(in: .whitespaces), scalar by scalar")
    func whitespace() {
        for text in Self.texts {
            #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespaces), "\(text.debugDescription)")
            let substring = text.dropFirst(0)
            #expect(substring.trimmingWhitespace() == substring.trimmingCharacters(in: .whitespaces))
        }
        var differing: [UInt32] = []
        for scalar in Self.scalars {
            let text = "\(scalar)x\(scalar)"
            if text.trimmingWhitespace() != text.trimmingCharacters(in: .whitespaces) { differing.append(scalar.value) }
        }
        #expect(differing.isEmpty)
    }

    @Test("trimmingWhitespaceAndNewlines() is trimmingCharacters(in: .whitespacesAndNewlines), scalar by scalar")
    func whitespaceAndNewlines() {
        for text in Self.texts {
            #expect(text.trimmingWhitespaceAndNewlines() == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
        }
        var differing: [UInt32] = []
        for scalar in Self.scalars {
            let text = "\(scalar)x\(scalar)"
            if text.trimmingWhitespaceAndNewlines() != text.trimmingCharacters(in: .whitespacesAndNewlines) { differing.append(scalar.value) }
        }
        #expect(differing.isEmpty)
    }

    @Test("hexString is String(format: \"%02x\") byte by byte")
    func hex() {
        for bytes in [[], [0], [0x0f, 0x10, 0xab, 0xff], Array(0...255)] as [[UInt8]] {
            #expect(bytes.hexString == bytes.map { String(format: "%02x", $0) }.joined())
        }
    }

    @Test("appendingPath(component:) is NSString.appendingPathComponent")
    func path() {
        let cases = [("a", "b"), ("a/", "b"), ("a//", "b"), ("", "b"), ("a", ""), ("", ""), ("a", "/b"), ("a/", "/b"),
                     ("/", "b"), ("/", "/"), ("/var/lib/meridian/./", "table.json"), ("data", "certs/ca.pem")]
        for (directory, component) in cases {
            #expect(directory.appendingPath(component: component) == (directory as NSString).appendingPathComponent(component),
                    "\(directory.debugDescription) + \(component.debugDescription)")
        }
    }

    @Test("fileErrorDescription gives the system's reason for Foundation's file errors")
    func fileErrors() {
        #expect(throws: (any Error).self) { try String(contentsOfFile: "/nonexistent/meridian/key.pem", encoding: .utf8) }
        do {
            _ = try String(contentsOfFile: "/nonexistent/meridian/key.pem", encoding: .utf8)
        } catch {
            #expect(error.fileErrorDescription == "No such file or directory")
        }
        do {
            _ = try Data(contentsOf: URL(fileURLWithPath: "/"))
        } catch {
            #expect(error.fileErrorDescription == "Is a directory")
        }
        struct Other: Error, CustomStringConvertible { var description: String { "other" } }
        #expect(Other().fileErrorDescription == "other")
    }
}
