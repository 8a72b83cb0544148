extension String {
    /// This path with `component` appended, a `/` between them when this path does not end with one: what
    /// Foundation's `NSString.appendingPathComponent` gives for the paths Meridian builds (an empty path gives
    /// `component`, an empty component gives this path). Nothing is normalised.
    public func appendingPath(component: String) -> String {
        if component.isEmpty { return self }
        if isEmpty { return component }
        return hasSuffix("/") ? self + component : self + "/" + component
    }
}
