import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The embedding example (Tests/Embedding/main.swift), built by `swift test` beside the test
/// bundle, runs a real container through the Skiff library's async API: no skiff process.
@Suite(.enabled(if: isRoot, "needs root: namespaces, cgroups, mounts"))
struct EmbeddingTests {
    /// The example sits in the same build directory as this test bundle.
    static let example: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return (exe as NSString).deletingLastPathComponent + "/SkiffEmbeddingExample"
    }()

    @Test func theDocumentedProgramCreatesStartsWaitsForAndDeletesAContainer() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.example), "no example at \(Self.example)")
        try Sandbox.with { sandbox in
            let bundle = try sandbox.bundle(args: ["/bin/sh", "-c", "echo inside: pid $$ uid $(id -u); exit 7"])
            let outcome = execute(Self.example, [sandbox.root, bundle], timeout: 60)
            #expect(outcome.succeeded, "\(outcome)")
            let lines = outcome.lines
            #expect(lines.count == 3, "\(outcome)")
            #expect(lines.first?.hasPrefix("created: created pid ") == true, "\(outcome)")
            // What the process saw: PID 1 of its own pid namespace, root.
            #expect(lines.dropFirst().first == "inside: pid 1 uid 0", "\(outcome)")
            // wait returned the real exit status, read as the init's parent.
            #expect(lines.last == "exited: exited(7) code 7", "\(outcome)")
            // delete removed it: nothing under the root for the CLI either.
            let listed = sandbox.skiff("list", "-q")
            #expect(listed.succeeded && listed.lines.isEmpty, "\(listed)")
        }
    }

    @Test func itsErrorsAreTypedSkiffErrors() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.example), "no example at \(Self.example)")
        try Sandbox.with { sandbox in
            let outcome = execute(Self.example, [sandbox.root, sandbox.path("no-such-bundle")])
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stdout.hasPrefix("example: invalidArgument: bundle: "), "\(outcome)")
            #expect(outcome.stdout.contains("no-such-bundle"), "\(outcome)")
        }
    }

    /// docs/embedding.md shows the example's code, from its first import to its end.
    @Test func theDocumentationShowsTheExampleVerbatim() throws {
        let source = try String(contentsOfFile: Paths.repository + "/Tests/Embedding/main.swift", encoding: .utf8)
        let doc = try String(contentsOfFile: Paths.repository + "/docs/embedding.md", encoding: .utf8)
        let program = try #require(source.range(of: "#if canImport(Glibc)").map { String(source[$0.lowerBound...]) })
        #expect(doc.contains("```swift\n" + program + "```"), "docs/embedding.md no longer shows Tests/Embedding/main.swift")
    }
}
