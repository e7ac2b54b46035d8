import Foundation
import Testing

@testable import Skiff
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

    @Test(arguments: [SyncMessage.options(options), .ready, .error("mount \"/proc\": permission denied\nsecond line")])
    func roundTrips(message: SyncMessage) throws {
        let data = try JSONEncoder().encode(message)
        #expect(try JSONDecoder().decode(SyncMessage.self, from: data) == message)
    }

    @Test func wireForm() throws {
        let ready = try JSONSerialization.jsonObject(with: JSONEncoder().encode(SyncMessage.ready)) as? [String: String]
        #expect(ready == ["type": "ready"])
        let error = try JSONSerialization.jsonObject(with: JSONEncoder().encode(SyncMessage.error("boom")))
        #expect(error as? [String: String] == ["type": "error", "message": "boom"])
        let options = try #require(
            JSONSerialization.jsonObject(with: JSONEncoder().encode(SyncMessage.options(Self.options))) as? [String: Any])
        #expect(options["type"] as? String == "options")
        #expect((options["options"] as? [String: Any])?["containerID"] as? String == "web")
    }

    @Test func unknownTypeIsAnErrorNamingIt() {
        let error = thrown(DecodingError.self) {
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
