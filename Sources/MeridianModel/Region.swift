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

/// A cloud region from the catalog in `regions/`.
public struct Region: Codable, Sendable, Hashable, Identifiable {
    /// `PROVIDER-CODE`, for example `aws-eu-central-1`.
    public var id: String
    /// `aws`, `gcp` or `azure`.
    public var provider: String
    /// The provider's own code, for example `eu-central-1`.
    public var providerRegion: String
    public var name: String
    public var city: String
    /// ISO 3166-1 alpha-2 country code.
    public var country: String
    public var latitude: Double
    public var longitude: Double
    /// Blocs the country belongs to (`EU`, `EEA`, ...).
    public var blocs: [String]

    public init(id: String, provider: String, providerRegion: String, name: String, city: String,
                country: String, latitude: Double, longitude: Double, blocs: [String]) {
        self.id = id
        self.provider = provider
        self.providerRegion = providerRegion
        self.name = name
        self.city = city
        self.country = country
        self.latitude = latitude
        self.longitude = longitude
        self.blocs = blocs
    }

    /// The jurisdiction data processed in this region falls under.
    public var jurisdiction: Jurisdiction { Jurisdiction(country: country, blocs: blocs) }

    /// Great-circle distance in kilometres (haversine).
    public func distanceKilometres(to other: Region) -> Double {
        let radians = Double.pi / 180
        let dLat = (other.latitude - latitude) * radians
        let dLon = (other.longitude - longitude) * radians
        let a = pow(sin(dLat / 2), 2) + cos(latitude * radians) * cos(other.latitude * radians) * pow(sin(dLon / 2), 2)
        return 2 * 6371.0 * asin(min(1, a.squareRoot()))
    }

    /// Round-trip time estimated from distance: light in fibre (~200 km/ms) over a path
    /// 1.5x the great circle, there and back, plus 2 ms of switching.
    public func estimatedRTTMilliseconds(to other: Region) -> Double {
        if id == other.id { return 1.0 }
        return 2.0 + 2 * 1.5 * distanceKilometres(to: other) / 200.0
    }
}

/// Where data is processed: a country and the blocs it belongs to.
public struct Jurisdiction: Codable, Sendable, Hashable, CustomStringConvertible {
    public var country: String
    public var blocs: [String]

    public init(country: String, blocs: [String] = []) {
        self.country = country
        self.blocs = blocs
    }

    public var description: String { blocs.isEmpty ? country : "\(country) (\(blocs.joined(separator: ", ")))" }
}
