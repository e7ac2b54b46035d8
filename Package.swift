// swift-tools-version: 6.0
import PackageDescription

// Imports point one way: SkiffCLI → Skiff → SkiffCgroups → SkiffLinux → C targets, with SkiffOCI
// beside SkiffLinux (neither imports the other); SkiffCgroups also uses CSystemd (sd-bus). Each
// target lists exactly what it imports.
// No unsafeFlags here, so other packages can depend on the Skiff library; the Makefile builds
// with warnings as errors (-Xswiftc -warnings-as-errors).
let strict: [SwiftSetting] = []

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
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        // sd-bus for the systemd cgroup driver (SkiffCgroups/Systemd): libsystemd-dev's header at
        // build time, libsystemd.so.0 opened with dlopen only under --systemd-cgroup, never linked.
        .target(name: "CSystemd", cSettings: [.define("_GNU_SOURCE")]),
        .target(name: "SkiffOCI", swiftSettings: strict),
        .target(
            name: "SkiffLinux",
            dependencies: ["CShims", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict),
        .target(name: "SkiffCgroups", dependencies: ["SkiffLinux", "SkiffOCI", "CShims", "CSystemd"], swiftSettings: strict),
        .target(
            name: "Skiff",
            dependencies: ["SkiffOCI", "SkiffLinux", "SkiffCgroups", "CNsexec", "CShims", "CSeccomp", "CCap"],
            swiftSettings: strict),
        .executableTarget(
            name: "SkiffCLI",
            dependencies: ["Skiff", "SkiffLinux", "SkiffOCI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        // libFuzzer target over the config.json decoder + validator and the state.json loader
        // (`make fuzz` builds it with -sanitize=fuzzer); a plain build replays files given as
        // arguments, so the corpus is also checked without the sanitizer.
        .executableTarget(name: "SkiffFuzz", dependencies: ["Skiff", "SkiffOCI"], path: "Tests/Fuzz", exclude: ["corpus"]),
        .testTarget(name: "SkiffOCITests", dependencies: ["SkiffOCI"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SkiffLinuxTests", dependencies: ["SkiffLinux"]),
        .testTarget(name: "SkiffCgroupsTests", dependencies: ["SkiffCgroups"]),
        .testTarget(name: "SkiffTests", dependencies: ["Skiff", "SkiffOCI", "CNsexec"]),
        .testTarget(name: "IntegrationTests", dependencies: ["SkiffOCI"]),
    ]
)
