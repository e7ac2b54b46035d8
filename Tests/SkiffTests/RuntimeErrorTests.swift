import Foundation
import Testing

@testable import Skiff
import SkiffCgroups
import SkiffLinux

/// What an embedding program sees when a call is refused: a SkiffError whose kind it can
/// branch on and whose description is the one line `skiff` prints. These calls are refused
/// before any container is made, so they need no root.
@Suite struct RuntimeErrorTests {
    let temp: TemporaryDirectory
    let runtime: Runtime

    init() throws {
        temp = try TemporaryDirectory("skiff-runtime")
        runtime = Runtime(root: temp.file("state"), logger: SkiffLogger(fd: -1))
    }

    /// A bundle with `config` as config.json and an empty rootfs directory.
    func bundle(_ config: String) throws -> String {
        let path = temp.file("bundle")
        try FileManager.default.createDirectory(atPath: path + "/rootfs", withIntermediateDirectories: true)
        try Data(config.utf8).write(to: URL(fileURLWithPath: path + "/config.json"))
        return path
    }

    static let minimal = #"""
        {"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}
        """#

    func skiffError(_ body: () throws -> Void) -> SkiffError? {
        thrown(SkiffError.self, body)
    }

    @Test func unknownContainer() {
        for call in [{ _ = try runtime.state(id: "nope") }, { try runtime.start(id: "nope") },
                     { try runtime.kill(id: "nope", signal: SIGTERM) }, { try runtime.delete(id: "nope") }] {
            let error = skiffError(call)
            #expect(error?.kind == .notFound)
            #expect(error?.description == "container does not exist: nope")
        }
    }

    @Test func invalidIDIsRefusedBeforeAnythingIsCreated() throws {
        let bundle = try bundle(Self.minimal)
        let error = skiffError { try runtime.create(id: "a/b", bundle: bundle) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.description.hasPrefix("invalid container id \"a/b\"") == true)
        #expect(!FileManager.default.fileExists(atPath: temp.file("state")))
    }

    @Test func missingBundle() throws {
        let missing = temp.file("no-bundle")
        let error = skiffError { try runtime.create(id: "web", bundle: missing) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.description == "bundle: realpath \"\(missing)\": no such file or directory")
        #expect(try runtime.list().isEmpty)
    }

    @Test func invalidConfigNamesTheField() throws {
        let bundle = try bundle(#"{"ociVersion":"1.2.0","process":{"args":[],"cwd":"/"},"root":{"path":"rootfs"}}"#)
        let error = skiffError { try runtime.create(id: "web", bundle: bundle) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.description == "config.json: process.args: must not be empty")
        #expect(!FileManager.default.fileExists(atPath: temp.file("state/web")))
    }

    @Test func unsupportedOptionsAreRefused() throws {
        let bundle = try bundle(Self.minimal)
        let fds = skiffError { try runtime.create(id: "web", bundle: bundle, options: CreateOptions(preserveFds: -1)) }
        #expect(fds?.kind == .invalidArgument)
        #expect(fds?.description == "--preserve-fds: -1 is out of range (0…4096)")
        let console = skiffError {
            try runtime.create(id: "web", bundle: bundle, options: CreateOptions(consoleSocket: "/tmp/sock"))
        }
        #expect(console?.kind == .invalidArgument)
        #expect(console?.description == "--console-socket \"/tmp/sock\": cannot use a console socket when process.terminal is false")
    }

    @Test func listOfAnEmptyRoot() throws {
        #expect(try runtime.list() == [])
    }

    /// The kernel's refusal stays a value through every layer of wrapping, while the text
    /// grows the context a user reads.
    @Test func wrappingKeepsTheCause() {
        let linux = LinuxError("mkdir", path: "/run/skiff/web", errno: EACCES)
        let wrapped = SkiffError.wrap(SkiffError.wrap(linux, "create state root"), "create web")
        #expect(wrapped.kind == .system)
        #expect(wrapped.description == "create web: create state root: mkdir \"/run/skiff/web\": permission denied")
        #expect(wrapped.cause == linux)
        #expect(wrapped.cause?.errno == .permissionDenied)
        #expect(SkiffError(.invalidArgument, "bundle", linux).cause == linux)
        #expect(SkiffError(.invalidArgument, "process.args: must not be empty").cause == nil)
        let cgroup = CgroupError("linux.resources.pids.limit = \"-2\": write \"/sys/fs/cgroup/pids.max\": invalid argument",
                                 cause: LinuxError("write", path: "/sys/fs/cgroup/pids.max", errno: EINVAL))
        #expect(SkiffError.wrap(cgroup, "create web").cause?.path == "/sys/fs/cgroup/pids.max")
    }

    /// A failing call's errno reaches the embedder as a value, not only as text.
    @Test func aMissingBundleCarriesENOENT() throws {
        let error = skiffError { try runtime.create(id: "web", bundle: temp.file("no-bundle")) }
        #expect(error?.cause?.operation == "realpath")
        #expect(error?.cause?.code == ENOENT)
    }

    /// SkiffError's contract: lower layers' errors reach the caller wrapped, with a kind.
    /// A state.json that cannot be read escapes as a bare LinuxError.
    @Test func unreadableStateIsASkiffError() throws {
        try FileManager.default.createDirectory(atPath: temp.file("state/web/state.json"),
                                                withIntermediateDirectories: true)
        var caught: (any Error)?
        do {
            _ = try runtime.state(id: "web")
        } catch {
            caught = error
        }
        #expect(caught != nil)
        #expect(caught is SkiffError, "\(type(of: caught as Any)): \(String(describing: caught))")
    }
}
