import Foundation
import Testing

@testable import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

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
        #expect(try SyncMessage(decoding: message.encoded()) == message)
    }

    /// exec's process is the spec's, through Codable inside the hand-made message.
    @Test func execCarriesTheSpecProcess() throws {
        var process = SkiffOCI.Process(args: ["/bin/sh", "-c", "echo hi"], env: ["A=1"], cwd: "/tmp")
        process.user = User(uid: 1000, gid: 1000, additionalGids: [10])
        process.noNewPrivileges = true
        let message = SyncMessage.exec(ExecInitOptions(containerID: "web", process: process, preserveFds: 1, listenFds: 1,
                                                       userSpec: "daemon"))
        #expect(try SyncMessage(decoding: message.encoded()) == message)
        let wire = try #require(JSONSerialization.jsonObject(with: Data(message.encoded())) as? [String: Any])
        let exec = try #require(wire["exec"] as? [String: Any])
        #expect((exec["process"] as? [String: Any])?["args"] as? [String] == ["/bin/sh", "-c", "echo hi"])
        #expect(exec["userSpec"] as? String == "daemon")
        // An error in the process names its path, as config.json's do.
        let bad = Array(#"{"type":"exec","exec":{"containerID":"c","preserveFds":0,"process":{"cwd":"/","user":{"uid":-1,"gid":0}}}}"#.utf8)
        let error = #expect(throws: SpecError.self) { try SyncMessage(decoding: bad) }
        #expect(error?.path == "exec.process.user.uid")
    }

    private static func wire(_ message: SyncMessage) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(message.encoded()))
    }

    @Test func wireForm() throws {
        let ready = try Self.wire(.ready) as? [String: String]
        #expect(ready == ["type": "ready"])
        let error = try Self.wire(.error(InitFailure(message: "boom")))
        #expect(error as? [String: String] == ["type": "error", "message": "boom"])
        let failure = InitFailure(message: "setrlimit RLIMIT_NOFILE: operation not permitted", operation: "setrlimit RLIMIT_NOFILE",
                                  errno: EPERM)
        let withCause = try #require(Self.wire(.error(failure)) as? [String: Any])
        #expect(withCause["operation"] as? String == "setrlimit RLIMIT_NOFILE")
        #expect(withCause["errno"] as? Int == Int(EPERM))
        #expect(withCause["path"] == nil)
        let options = try #require(Self.wire(.options(Self.options)) as? [String: Any])
        #expect(options["type"] as? String == "options")
        let fields = try #require(options["options"] as? [String: Any])
        #expect(fields["containerID"] as? String == "web")
        #expect(fields["preserveFds"] as? Int == 2)
        #expect(fields["noPivot"] as? Bool == true)
        #expect(fields["bundle"] == nil)
        let cgroups = try #require(fields["cgroups"] as? [[String: Any]])
        #expect(cgroups.map { $0["controllers"] as? [String] } == [["cpu", "cpuacct"], []])
        #expect(cgroups.last?["directory"] as? String == "/sys/fs/cgroup/unified/skiff/web")
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
        #expect(try SyncMessage(decoding: SyncMessage.error(failure).encoded()) == .error(failure))
        // A bare message (an error with no system call behind it) has no cause.
        #expect(InitFailure(SkiffError(.invalidArgument, "process.args: must not be empty")).cause == nil)
        let old = try SyncMessage(decoding: Array(#"{"type":"error","message":"boom"}"#.utf8))
        #expect(old == .error(InitFailure(message: "boom")))
    }

    @Test func unknownTypeIsAnErrorNamingIt() {
        let error = #expect(throws: SpecError.self) {
            _ = try SyncMessage(decoding: Array(#"{"type":"resume"}"#.utf8))
        }
        #expect(error?.description == #"type: unknown sync message "resume""#)
    }

    @Test(arguments: [
        (#"{"type":"error"}"#, "message: missing required field"),
        (#"{"message":"x"}"#, "type: missing required field"),
        (#"{"type":"error","message":"x","errno":4294967296}"#, "errno: 4294967296 is out of range for 32-bit integer"),
        (#"{"type":"options","options":{"containerID":"c","rootfs":"/r","cgroups":[],"noPivot":"yes"}}"#, "options.noPivot: expected boolean, found string"),
        (#"{"type":"options","options":{"containerID":"c","rootfs":"/r","noPivot":false,"noNewKeyring":false,"preserveFds":0,"debug":false,"cgroups":[{"version":"v1"}]}}"#,
         "options.cgroups[0].controllers: missing required field"),
        (#"{"type":"options","options":[]}"#, "options: expected object, found array"),
        (#"[]"#, "sync message: expected object, found array"),
        (#"{"type":"exec","exec":{"containerID":"c","preserveFds":0}}"#, "exec.process: missing required field"),
    ])
    func malformedMessagesAreErrorsNamingTheField(text: String, message: String) {
        let error = #expect(throws: SpecError.self) { try SyncMessage(decoding: Array(text.utf8)) }
        #expect(error?.description == message)
    }

    /// What the channel reports for bytes that are not a message at all.
    @Test func channelNamesAMalformedMessage() throws {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
        let parent = OwnedFD(fds[0])
        let child = SyncChannel(fd: OwnedFD(fds[1]))
        try Sockets.send(parent, Array("{\"type\":".utf8), operation: "send")
        let error = #expect(throws: SkiffError.self) { try child.receive() }
        #expect(error?.message.hasPrefix("malformed sync message: sync message: malformed JSON") == true)
        parent.close()
        child.fd.close()
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
