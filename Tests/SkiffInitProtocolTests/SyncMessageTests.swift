import Foundation
import Testing

@testable import SkiffInitProtocol
import SkiffLinux

/// The runtime and the Swift init talk JSON over the sync socket; both ends are this code,
/// but an old init and a new runtime may meet after an upgrade, so the wire form matters.
@Suite struct SyncMessageTests {
    static let options = InitOptions(
        containerID: "web", rootfs: "/var/lib/bundles/web/rootfs", noPivot: true, noNewKeyring: false,
        preserveFds: 2,
        cgroups: [
            CgroupMountSource(version: "v1", controllers: ["cpu", "cpuacct"], mountPoint: "/sys/fs/cgroup/cpu,cpuacct",
                              directory: "/sys/fs/cgroup/cpu,cpuacct/skiff/web"),
            CgroupMountSource(version: "v2", controllers: [], mountPoint: "/sys/fs/cgroup/unified",
                              directory: "/sys/fs/cgroup/unified/skiff/web"),
        ],
        debug: true)

    @Test(arguments: [SyncMessage.options(options), .ready, .error(InitFailure(message: "mount \"/proc\": permission denied\nsecond line")),
                      .error(InitFailure(message: "mounts[3] /proc: mount \"/proc\": permission denied", operation: "mount",
                                         path: "/proc", errno: EACCES))])
    func roundTrips(message: SyncMessage) throws {
        let data = try JSONEncoder().encode(message)
        #expect(try JSONDecoder().decode(SyncMessage.self, from: data) == message)
    }

    @Test func wireForm() throws {
        let ready = try JSONSerialization.jsonObject(with: JSONEncoder().encode(SyncMessage.ready)) as? [String: String]
        #expect(ready == ["type": "ready"])
        let error = try JSONSerialization.jsonObject(with: JSONEncoder().encode(SyncMessage.error(InitFailure(message: "boom"))))
        #expect(error as? [String: String] == ["type": "error", "message": "boom"])
        let failure = InitFailure(message: "setrlimit RLIMIT_NOFILE: operation not permitted", operation: "setrlimit RLIMIT_NOFILE",
                                  errno: EPERM)
        let withCause = try #require(
            JSONSerialization.jsonObject(with: JSONEncoder().encode(SyncMessage.error(failure))) as? [String: Any])
        #expect(withCause["operation"] as? String == "setrlimit RLIMIT_NOFILE")
        #expect(withCause["errno"] as? Int == Int(EPERM))
        #expect(withCause["path"] == nil)
        let options = try #require(
            JSONSerialization.jsonObject(with: JSONEncoder().encode(SyncMessage.options(Self.options))) as? [String: Any])
        #expect(options["type"] as? String == "options")
        #expect((options["options"] as? [String: Any])?["containerID"] as? String == "web")
    }

    /// Init sends the failed call as values; the runtime rebuilds the LinuxError from them.
    @Test func initFailureCarriesTheFailedCall() throws {
        let linux = LinuxError("mount", path: "/proc", errno: EPERM)
        let failure = InitFailure(SkiffError.wrap(SkiffError.wrap(linux, "mounts[2] /proc"), "init"))
        #expect(failure.message == "init: mounts[2] /proc: mount \"/proc\": operation not permitted")
        #expect(failure.operation == "mount")
        #expect(failure.path == "/proc")
        #expect(failure.errno == EPERM)
        #expect(failure.cause == linux)
        let data = try JSONEncoder().encode(SyncMessage.error(failure))
        #expect(try JSONDecoder().decode(SyncMessage.self, from: data) == .error(failure))
        // A bare message (an error with no system call behind it) has no cause.
        #expect(InitFailure(SkiffError(.invalidArgument, "process.args: must not be empty")).cause == nil)
        let old = try JSONDecoder().decode(SyncMessage.self, from: Data(#"{"type":"error","message":"boom"}"#.utf8))
        #expect(old == .error(InitFailure(message: "boom")))
    }

    @Test func unknownTypeIsAnErrorNamingIt() {
        let error = #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode(SyncMessage.self, from: Data(#"{"type":"resume"}"#.utf8))
        }
        guard case .dataCorrupted(let context)? = error else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(context.debugDescription == #"unknown sync message "resume""#)
        #expect(context.codingPath.map(\.stringValue) == ["type"])
    }

    @Test func missingFieldsAreErrors() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(SyncMessage.self, from: Data(#"{"type":"error"}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(SyncMessage.self, from: Data(#"{"message":"x"}"#.utf8))
        }
    }

    /// Over a real SOCK_SEQPACKET pair, one message per packet, and nil once the peer closes.
    @Test func channelSendsAndReceives() throws {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
        let parent = SyncChannel(fd: OwnedFD(fds[0]))
        let child = SyncChannel(fd: OwnedFD(fds[1]))
        try parent.send(.options(Self.options))
        try child.send(.ready)
        #expect(try child.receive() == .options(Self.options))
        #expect(try parent.receive() == .ready)
        child.fd.close()
        #expect(try parent.receive() == nil)
    }
}
