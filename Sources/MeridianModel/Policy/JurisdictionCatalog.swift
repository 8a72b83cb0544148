#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The jurisdictions a policy document may name: every ISO 3166-1 alpha-2 country code, the blocs
/// `EU`, `EEA`, `EFTA`, `FIVE_EYES` and `APAC` with their member countries, and `*` (everywhere).
///
/// The router decides with the blocs that the region catalog (`regions/`) gives each region; this
/// catalog is what the policy parser checks names against and what it uses to find contradictions
/// (a data class that allows nowhere once `deny` is applied).
public enum JurisdictionCatalog {
    /// The wildcard jurisdiction: everywhere.
    public static let wildcard = "*"

    /// Every officially assigned ISO 3166-1 alpha-2 code.
    public static let countries: Set<String> = [
        "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
        "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
        "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
        "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
        "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
        "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
        "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
        "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
        "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
        "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
        "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
        "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
        "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
        "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
        "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
        "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
    ]

    /// The 27 member states of the European Union.
    public static let europeanUnion: Set<String> = [
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
        "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    ]

    /// Bloc name to member countries.
    public static let blocMembers: [String: Set<String>] = [
        "EU": europeanUnion,
        "EEA": europeanUnion.union(["IS", "LI", "NO"]),
        "EFTA": ["CH", "IS", "LI", "NO"],
        "FIVE_EYES": ["AU", "CA", "GB", "NZ", "US"],
        "APAC": [
            "AU", "BD", "BN", "BT", "CN", "FJ", "HK", "ID", "IN", "JP", "KH", "KR", "LA", "LK", "MM", "MN",
            "MO", "MV", "MY", "NP", "NZ", "PG", "PH", "PK", "SG", "TH", "TL", "TW", "VN",
        ],
    ]

    /// Bloc names, sorted.
    public static var blocs: [String] { blocMembers.keys.sorted() }

    /// Whether `name` is a country code, a bloc or `*`.
    public static func isKnown(_ name: String) -> Bool {
        name == wildcard || countries.contains(name) || blocMembers[name] != nil
    }

    /// The blocs `country` belongs to, sorted.
    public static func blocs(of country: String) -> [String] {
        blocMembers.filter { $0.value.contains(country) }.map(\.key).sorted()
    }

    /// The jurisdiction of a region in `country`, with the blocs this catalog knows.
    public static func jurisdiction(of country: String) -> Jurisdiction {
        Jurisdiction(country: country, blocs: blocs(of: country))
    }

    /// A hint for a name that is not a jurisdiction, or nil when there is none better than the list of blocs.
    public static func suggestion(for name: String) -> String? {
        let upper = name.uppercased().replacing("-", with: "_").replacing(" ", with: "_")
        if upper != name, isKnown(upper) { return "did you mean '\(upper)'?" }
        switch upper {
        case "UK": return "the United Kingdom's ISO 3166-1 code is 'GB'"
        case "EL": return "Greece's ISO 3166-1 code is 'GR'"
        case "FVEY", "5EYES", "FIVEEYES": return "the bloc is spelled 'FIVE_EYES'"
        case "ALL", "ANY", "ANYWHERE", "EVERYWHERE": return "write '*' (quoted) for everywhere"
        default: return nil
        }
    }
}
