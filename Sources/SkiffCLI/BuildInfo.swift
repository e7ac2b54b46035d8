import Skiff

enum BuildInfo {
    static var commit: String { Runtime.buildCommit }
}
