import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The Skiff library as an embedder uses it (Tests/EmbedderProbe, a program that calls
/// `Runtime.create` itself): a failure inside the container's init reaches it as a SkiffError
/// whose cause carries the failed call's operation, path and errno as values, across init's
/// sync socket, while the CLI prints the same failure as one line.
@Suite(.enabled(if: isRoot, "needs root: namespaces, cgroups and mounts"))
struct EmbedderTests {
    /// Built beside the test bundle by `swift build --build-tests` / `swift test`.
    static let probe: String = ProcessInfo.processInfo.environment["SKIFF_EMBEDDER_PROBE"] ?? {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        url.deleteLastPathComponent()
        return url.path + "/SkiffEmbedderProbe"
    }()

    /// A hard RLIMIT_NOFILE above fs.nr_open: setrlimit refuses it with EPERM even for root,
    /// in init, after the namespaces and mounts are made and before the process runs.
    func bundleInitRefuses(_ sandbox: Sandbox) throws -> String {
        let nrOpen = try #require(readFile("/proc/sys/fs/nr_open").flatMap {
            UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines))
        })
        return try sandbox.bundle(args: ["true"]) {
            $0.process?.rlimits = [POSIXRlimit(type: "RLIMIT_NOFILE", hard: nrOpen + 1, soft: nrOpen + 1)]
        }
    }

    @Test func initFailureReachesTheLibraryWithItsErrno() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.probe),
                     "no embedder probe at \(Self.probe): run `swift build --build-tests` or set SKIFF_EMBEDDER_PROBE")
        try Sandbox.with { sandbox in
            let bundle = try bundleInitRefuses(sandbox)
            let id = sandbox.id("embedder")
            let outcome = execute(Self.probe, [sandbox.root, bundle, id])
            #expect(outcome.status == 1, "\(outcome)")
            let fields = Dictionary(outcome.lines.compactMap { line -> (String, String)? in
                guard let equals = line.firstIndex(of: "=") else { return nil }
                return (String(line[..<equals]), String(line[line.index(after: equals)...]))
            }, uniquingKeysWith: { first, _ in first })
            #expect(fields["kind"] == "containerInit", "\(outcome)")
            #expect(fields["operation"] == "setrlimit RLIMIT_NOFILE", "\(outcome)")
            #expect(fields["errno"] == "\(EPERM)", "\(outcome)")
            #expect(fields["message"] == "setrlimit RLIMIT_NOFILE: operation not permitted", "\(outcome)")
            // Nothing of the failed create is left for the CLI to see.
            #expect(!sandbox.skiff("state", id).succeeded)
        }
    }

    @Test func theCLIPrintsTheSameFailureAsOneLine() throws {
        try Sandbox.with { sandbox in
            let bundle = try bundleInitRefuses(sandbox)
            let outcome = sandbox.skiff("create", "--bundle", bundle, sandbox.id("embedder-cli"))
            #expect(!outcome.succeeded)
            #expect(outcome.stderrLines.count == 1, "\(outcome)")
            #expect(outcome.stderr.contains("setrlimit RLIMIT_NOFILE: operation not permitted"), "\(outcome)")
        }
    }
}
