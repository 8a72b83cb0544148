import Foundation
import MeridianModel
import MeridianPKI
import Synchronization

/// The hub's CA, shared by the API (joins, renewals) and the control plane (trust bundle in every table).
public final class MeshAuthority: Sendable {
    private let current: Mutex<MeshCA>

    public init(_ ca: MeshCA) { current = Mutex(ca) }

    public var ca: MeshCA { current.withLock { $0 } }

    public func replace(_ ca: MeshCA) { current.withLock { $0 = ca } }
}
