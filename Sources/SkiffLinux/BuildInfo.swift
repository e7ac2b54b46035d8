import CShims

public enum BuildInfo {
    /// The git commit the binary was built from ("unknown" outside `make`).
    public static var commit: String { String(cString: skiff_build_commit()) }
}
