enum BuildInfo { static let commit = "unknown" }
