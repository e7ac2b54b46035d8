// The program of docs/embedding.md, verbatim: a Swift tool running a container through the
// Skiff library, with no skiff process in between. `make test` builds it and
// Tests/IntegrationTests/EmbeddingTests.swift runs it against a real bundle.
#if canImport(Glibc)
import Glibc
#endif
import Skiff

// First, before anything else: in the container's init this process is re-executed as
// `<program> init`, already inside the container's namespaces.
if Runtime.isContainerInit {
    ContainerInit.main()
}

guard CommandLine.arguments.count == 3 else {
    print("usage: embedding-example STATE-ROOT BUNDLE")
    exit(2)
}
/// Creates a container from the bundle, starts it, waits for its process and deletes it.
func runOnce(root: String, bundle: String) async throws(SkiffError) {
    let runtime = Runtime(root: root, logger: SkiffLogger(fd: 2, format: .text))
    let created = try await runtime.create(id: "example", bundle: bundle)
    print("created: \(created.status) pid \(created.pid ?? 0)")
    fflush(nil)  // the container writes to the same stdout
    try await runtime.start(id: "example")
    let status = try await runtime.wait(id: "example")
    print("exited: \(status) code \(status.shellCode)")
    try await runtime.delete(id: "example")
}

do {
    try await runOnce(root: CommandLine.arguments[1], bundle: CommandLine.arguments[2])
} catch {
    // A SkiffError (the API's errors are typed): `kind` to branch on, the text to show.
    print("example: \(error.kind): \(error)")
    exit(1)
}
