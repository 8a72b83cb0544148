/// User events reach each handler as `Any`, and every HTTP/2 request makes several (a stream created, window updates, a
/// stream closed) that pass through every handler after the ``TunnelHTTP2Handler``. An `as?` or `is` on `Any` costs a full
/// dynamic cast (about 250 instructions) even when it fails, which is what most of them do; comparing the event's
/// dynamic type first costs a pointer comparison.
enum UserEvent {
    /// Whether `event` is a `T` (`T` a concrete type: no subclass or protocol matches).
    @inline(__always)
    static func `is`<T>(_ event: Any, _ type: T.Type) -> Bool {
        Swift.type(of: event) == type
    }

    /// The `T` in `event`, or `nil` when it holds something else; no dynamic cast.
    @inline(__always)
    static func `as`<T>(_ event: Any, _ type: T.Type) -> T? {
        guard Swift.type(of: event) == type else { return nil }
        func open<U>(_ value: U) -> T {
            precondition(U.self == T.self)
            return unsafeBitCast(value, to: T.self)
        }
        return _openExistential(event, do: open)
    }
}
