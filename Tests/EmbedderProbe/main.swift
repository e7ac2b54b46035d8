// A program that embeds the Skiff library the way docs/embedding.md describes, for
// Tests/IntegrationTests/EmbedderTests.swift: it creates a container through `Runtime`, with no
// `skiff` process in between, and prints what an embedder gets back, one `key=value` per line,
// so the test can check an init failure's cause as values rather than as text.
#if canImport(Glibc)
import Glibc
#endif
import Skiff

// As in every embedder: this executable is also the container's init.
if Runtime.isContainerInit {
    ContainerInit.main()
}

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    print("usage: \(arguments[0]) ROOT BUNDLE ID")
    exit(2)
}
let runtime = Runtime(root: arguments[1], logger: SkiffLogger(fd: 2))
do {
    let state = try runtime.create(id: arguments[3], bundle: arguments[2])
    print("status=\(state.status.rawValue)")
    try runtime.delete(id: arguments[3], force: true)
    if let pid = state.pid { waitpid(pid, nil, 0) }  // init is our child (docs/embedding.md)
} catch let error as SkiffError {
    print("kind=\(error.kind)")
    print("message=\(error.message)")
    if let cause = error.cause {
        print("operation=\(cause.operation)")
        print("path=\(cause.path ?? "")")
        print("errno=\(cause.errno.rawValue)")
    }
    exit(1)
} catch {
    print("error=\(error)")
    exit(1)
}
