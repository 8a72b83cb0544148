import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MeridianModel
import SwiftASN1
import X509

extension Certificate {
    /// Parses every `CERTIFICATE` block of a PEM string, in order; other blocks are an error.
    static func parseAll(pem: String, what: String) throws(MeshPKIError) -> [Certificate] {
        if pem.allSatisfy(\.isWhitespace) { return [] }
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: pem)
        } catch {
            throw MeshPKIError(.invalidPEM, "\(what) is not valid PEM: \(error)")
        }
        var certificates: [Certificate] = []
        for document in documents {
            guard document.discriminator == Certificate.defaultPEMDiscriminator else {
                throw MeshPKIError(.invalidPEM, "\(what) holds a '\(document.discriminator)' block; only CERTIFICATE blocks are allowed")
            }
            do {
                certificates.append(try Certificate(pemDocument: document))
            } catch {
                throw MeshPKIError(.invalidPEM, "\(what) holds a certificate that cannot be parsed: \(error)")
            }
        }
        return certificates
    }

    /// The certificate as one PEM block, ending in a newline.
    var pemString: String {
        get throws(MeshPKIError) {
            do {
                return try self.serializeAsPEM().pemString + "\n"
            } catch {
                throw MeshPKIError(.invalidPEM, "cannot encode certificate as PEM: \(error)")
            }
        }
    }

    /// The DER encoding.
    var derBytes: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }

    /// Lowercase hex of the serial number, without separators (`0a1b...`).
    var serialHex: String {
        serialNumber.bytes.hexString
    }

    /// SHA-256 of the DER encoding, lowercase hex.
    var sha256Fingerprint: String {
        ((try? derBytes).map { Array(SHA256.hash(data: $0)) } ?? []).hexString
    }

    /// True when issuer equals subject and the certificate's own key verifies its signature.
    var isSelfSigned: Bool {
        issuer == subject && publicKey.isValidSignature(signature, for: self)
    }

    /// True when basicConstraints marks the certificate as a CA.
    var isCertificateAuthority: Bool {
        if case .isCertificateAuthority = (try? extensions.basicConstraints) ?? .notCertificateAuthority { return true }
        return false
    }

    /// Every URI in the subjectAlternativeName extension.
    var uriSANs: [String] {
        guard let names = try? extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            if case .uniformResourceIdentifier(let uri) = name { return uri }
            return nil
        }
    }

    /// The common name of the subject, if any, for messages.
    var subjectCommonName: String? {
        for rdn in subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value)
            }
        }
        return nil
    }

    /// A short name for log lines: the SPIFFE ID if there is one, else the subject.
    var displayName: String {
        uriSANs.first ?? "'\(subject)'"
    }
}

/// Normalises a serial number written as hex (any case, optional `:` separators, optional `0x`) so that two
/// spellings of one serial compare equal: lowercase, no separators, no leading zeros.
func normalizedSerial(_ serial: String) -> String {
    var text = serial.lowercased().replacing(":", with: "")
    if text.hasPrefix("0x") { text.removeFirst(2) }
    let trimmed = text.drop(while: { $0 == "0" })
    return trimmed.isEmpty ? "0" : String(trimmed)
}

/// Formats a date for messages, in UTC, as ISO 8601 (`2025-03-01T12:00:00Z`).
func formatDate(_ date: Date) -> String {
    date.formatted(.iso8601)
}
