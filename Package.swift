// swift-tools-version: 6.2
import PackageDescription

// Imports point one way: SkiffCLI → Skiff → SkiffCgroups → SkiffLinux → C targets, with SkiffOCI
// beside SkiffLinux (neither imports the other); SkiffLinux also wraps CSystemd (sd-bus) and
// CCap (libcap). The container's init is a module of its own, SkiffInit, which knows nothing of
// the runtime; what the two sides exchange (sync messages, init's environment and fds, the
// bootstrap message for the C stage) and the few types both use (SkiffError, SkiffLogger,
// hooks, the parsers of the config fields the runtime checks and init applies) live below both
// in SkiffInitProtocol. Skiff imports SkiffInit in one file only, Exports.swift, to hand
// embedders the init's entry point. Each target lists exactly what it imports.
// No unsafeFlags here, so other packages can depend on the Skiff library. Swift 6 language mode
// checks concurrency completely; every target of ours, tests included, treats warnings as errors
// (SwiftPM applies that to this package only, never to a package that depends on it).
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "skiff",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "skiff", targets: ["SkiffCLI"]),
        .library(name: "Skiff", targets: ["Skiff"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .target(name: "CNsexec", cSettings: [.define("_GNU_SOURCE")]),
        .target(name: "CShims", cSettings: [.define("_GNU_SOURCE")]),
        // No pkgConfig: both live in the default search paths on Debian, and SwiftPM turned the
        // .pc files' libdir into a -L ahead of the Makefile's, so the release build could not
        // link the archives it prepares (Makefile: STATIC_C_LIBS).
        .systemLibrary(name: "CSeccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", providers: [.apt(["libcap-dev"])]),
        // sd-bus for the systemd cgroup driver (SkiffCgroups/Systemd): libsystemd-dev's header at
        // build time, libsystemd.so.0 opened with dlopen only under --systemd-cgroup, never linked.
        .target(name: "CSystemd", cSettings: [.define("_GNU_SOURCE")]),
        .target(name: "SkiffOCI", swiftSettings: strict),
        .target(
            name: "SkiffLinux",
            dependencies: ["CShims", "CNsexec", "CSystemd", "CCap", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        .target(name: "SkiffCgroups", dependencies: ["SkiffLinux", "SkiffOCI"], swiftSettings: strict),
        .target(
            name: "SkiffInitProtocol",
            dependencies: ["SkiffOCI", "SkiffLinux", "CNsexec", "CShims", "CSeccomp"],
            swiftSettings: strict),
        .target(
            name: "SkiffInit",
            dependencies: ["SkiffInitProtocol", "SkiffOCI", "SkiffLinux", "CShims", "CCap"],
            swiftSettings: strict),
        .target(
            name: "Skiff",
            dependencies: ["SkiffInitProtocol", "SkiffInit", "SkiffOCI", "SkiffLinux", "SkiffCgroups", "CShims", "CSeccomp"],
            swiftSettings: strict),
        .executableTarget(
            name: "SkiffCLI",
            dependencies: ["Skiff", "SkiffLinux", "SkiffOCI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        // The program docs/embedding.md shows, built and run by `make test` (EmbeddingTests).
        .executableTarget(name: "SkiffEmbeddingExample", dependencies: ["Skiff"], path: "Tests/Embedding", swiftSettings: strict),
        // libFuzzer target over the config.json decoder + validator and the state.json loader
        // (`make fuzz` builds it with -sanitize=fuzzer); a plain build replays files given as
        // arguments, so the corpus is also checked without the sanitizer.
        .executableTarget(name: "SkiffFuzz", dependencies: ["Skiff", "SkiffOCI"], path: "Tests/Fuzz", exclude: ["corpus"],
                          swiftSettings: strict),
        // A program that embeds the library as docs/embedding.md describes; IntegrationTests run it
        // to check what an embedder gets back from a failing container init.
        .executableTarget(name: "SkiffEmbedderProbe", dependencies: ["Skiff"], path: "Tests/EmbedderProbe", swiftSettings: strict),
        .testTarget(name: "SkiffOCITests", dependencies: ["SkiffOCI"], resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "SkiffLinuxTests", dependencies: ["SkiffLinux", "CShims"], swiftSettings: strict),
        .testTarget(name: "SkiffCgroupsTests", dependencies: ["SkiffCgroups", "SkiffLinux", "SkiffOCI"], swiftSettings: strict),
        .testTarget(name: "SkiffInitProtocolTests", dependencies: ["SkiffInitProtocol", "SkiffLinux", "SkiffOCI", "CNsexec"],
                    swiftSettings: strict),
        .testTarget(name: "SkiffInitTests", dependencies: ["SkiffInit", "SkiffInitProtocol", "SkiffLinux", "SkiffOCI"], swiftSettings: strict),
        .testTarget(name: "SkiffTests", dependencies: ["Skiff", "SkiffInitProtocol", "SkiffCgroups", "SkiffLinux", "SkiffOCI", "CSeccomp"],
                    swiftSettings: strict),
        // The two parsers of the CLI (ArgumentParser's command types, DirectCommandLine) agree.
        .testTarget(name: "SkiffCLITests", dependencies: ["SkiffCLI"], swiftSettings: strict),
        .testTarget(name: "IntegrationTests", dependencies: ["SkiffOCI"], swiftSettings: strict),
    ]
)
