// NSString's path functions, for the modules that use FoundationEssentials (see Threads.swift),
// with the same results on the paths Berth handles: "/" separated, trailing slashes ignored.
public enum Path {
    /// "/a/b/" → "b", "b" → "b", "/" → "/", "" → "".
    public static func lastComponent(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        if trimmed == "/" { return "/" }
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// "/a/b" → "/a", "/a" → "/", "a" → "", "a/b/" → "a".
    public static func deletingLastComponent(_ path: String) -> String {
        let trimmed = trimmingTrailingSlashes(path)
        if trimmed == "/" { return "/" }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        if slash == trimmed.startIndex { return "/" }
        return trimmingTrailingSlashes(String(trimmed[..<slash]))
    }

    /// "a" + "b" → "a/b", "a/" + "b" → "a/b", "" + "b" → "b", "a" + "" → "a".
    public static func appending(_ path: String, _ component: String) -> String {
        if path.isEmpty { return component }
        if component.isEmpty { return path }
        return trimmingTrailingSlashes(path).appendingSlashUnlessRoot + component.drop { $0 == "/" }
    }

    private static func trimmingTrailingSlashes(_ path: String) -> String {
        var end = path.endIndex
        while end > path.startIndex, path[path.index(before: end)] == "/", path.index(before: end) != path.startIndex {
            end = path.index(before: end)
        }
        return String(path[..<end])
    }
}

private extension String {
    var appendingSlashUnlessRoot: String { self == "/" ? self : self + "/" }
}
