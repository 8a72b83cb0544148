import Foundation
import MeridianRouting

/// Renders the hub's explanation JSON with the router's own renderer.
enum RouteRendering {
    static func explanation(_ data: Data) throws -> String {
        try JSONDecoder().decode(RouteExplanation.self, from: data).render()
    }
}
