import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import Skiff
@testable import SkiffInitProtocol

/// The rootless decisions that need no kernel: where a container's cgroup may go, which map
/// needs newuidmap, and where newuidmap is looked up.
@Suite struct RootlessPlacementTests {
    // MARK: cgroup paths (runc's fs2 `_defaultDirPath`)

    @Test func defaultPathIsBesideOurOwnCgroupThenBelowIt() {
        let own = "/user.slice/user-1000.slice/user@1000.service/app.slice/run-r1.scope"
        #expect(Runtime.rootlessCgroupPaths(cgroupsPath: nil, id: "web", ownPath: own) == [
            "/user.slice/user-1000.slice/user@1000.service/app.slice/web",
            own + "/web",
        ])
        #expect(Runtime.rootlessCgroupPaths(cgroupsPath: "", id: "web", ownPath: "/a/b").count == 2)
    }

    @Test func inTheRootCgroupThereIsOnlyOnePlace() {
        #expect(Runtime.rootlessCgroupPaths(cgroupsPath: nil, id: "web", ownPath: "/") == ["/web"])
        #expect(Runtime.rootlessCgroupPaths(cgroupsPath: nil, id: "web", ownPath: "/session") == ["/web", "/session/web"])
    }

    @Test func explicitPaths() {
        #expect(Runtime.rootlessCgroupPaths(cgroupsPath: "pod/web", id: "web", ownPath: "/deleg/leaf") == ["/deleg/pod/web"])
        #expect(Runtime.rootlessCgroupPaths(cgroupsPath: "/elsewhere/web", id: "web", ownPath: "/deleg/leaf") == ["/elsewhere/web"])
    }

    /// The cgroup whose cgroup.procs the kernel checks when moving a process between two.
    @Test func commonAncestor() {
        #expect(Runtime.commonAncestor("/deleg/leaf", "/deleg/web") == "/deleg")
        #expect(Runtime.commonAncestor("/deleg/leaf", "/deleg/leaf/web") == "/deleg/leaf")
        #expect(Runtime.commonAncestor("/", "/web") == "")
        #expect(Runtime.commonAncestor("/a/bc", "/a/b/c") == "/a")
    }

    // MARK: id maps

    /// A subordinate id file granting our own uid a range.
    func subordinateIDs() throws -> String {
        let path = NSTemporaryDirectory() + "skiff-subid-\(UUID().uuidString)"
        try "\(geteuid()):100000:65536\n".write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    func writers(_ uid: [LinuxIDMapping], _ gid: [LinuxIDMapping]) throws -> BootstrapMessage {
        let ranges = try subordinateIDs()
        defer { try? FileManager.default.removeItem(atPath: ranges) }
        var message = BootstrapMessage()
        try message.chooseMapWriters(uidMappings: uid, gidMappings: gid, subuidFile: ranges, subgidFile: ranges)
        return message
    }

    /// No range at all: said before anything is made, naming the file and the fix.
    @Test func noSubordinateRangeIsNamedWithTheFix() throws {
        guard (try? BootstrapMessage.findTool("newuidmap")) != nil else { return }
        let nsswitch = (try? String(contentsOfFile: "/etc/nsswitch.conf", encoding: .utf8)) ?? ""
        guard !nsswitch.split(separator: "\n").contains(where: { $0.hasPrefix("subid:") }) else { return }
        var message = BootstrapMessage()
        let error = #expect(throws: SkiffError.self) {
            try message.chooseMapWriters(uidMappings: [LinuxIDMapping(containerID: 0, hostID: 100_000, size: 65536)],
                                         gidMappings: [], subuidFile: "/nonexistent/subuid", subgidFile: "/nonexistent/subgid")
        }
        let name = Runtime.userName(String(geteuid()))
        #expect(error?.message == "linux.uidMappings: /nonexistent/subuid has no range for user \(name) (uid \(geteuid())): "
            + "ask root to add one (usermod --add-subuids 100000-165535 \(name)), or map only your own id")
    }

    @Test func ourOwnIDsAreWrittenDirectlyWithSetgroupsDenied() throws {
        let message = try writers([LinuxIDMapping(containerID: 0, hostID: geteuid(), size: 1)],
                                  [LinuxIDMapping(containerID: 0, hostID: getegid(), size: 1)])
        #expect(message.newuidmapPath == nil && message.newgidmapPath == nil)
        #expect(message.setgroupsDeny)
    }

    @Test func anythingElseGoesThroughTheTools() throws {
        // Skipped where Debian's uidmap is not installed: the lookup itself is tested below.
        guard (try? BootstrapMessage.findTool("newuidmap")) != nil, (try? BootstrapMessage.findTool("newgidmap")) != nil else { return }
        let message = try writers([LinuxIDMapping(containerID: 0, hostID: geteuid(), size: 1),
                                   LinuxIDMapping(containerID: 1, hostID: 100_000, size: 65536)],
                                  [LinuxIDMapping(containerID: 0, hostID: getegid() + 1, size: 1)])
        #expect(message.newuidmapPath?.hasSuffix("/newuidmap") == true)
        #expect(message.newgidmapPath?.hasSuffix("/newgidmap") == true)
        #expect(!message.setgroupsDeny)
    }

    @Test func toolsAreLookedUpInPath() throws {
        let directory = NSTemporaryDirectory() + "skiff-path-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tool = directory + "/bin/newuidmap"
        _ = FileManager.default.createFile(atPath: tool, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        // Directories (and relative PATH entries) never count.
        try FileManager.default.createDirectory(atPath: directory + "/dir/newuidmap", withIntermediateDirectories: true)
        #expect(try BootstrapMessage.findTool("newuidmap", path: "relative:\(directory)/dir:\(directory)/bin") == tool)
        let error = #expect(throws: SkiffError.self) { try BootstrapMessage.findTool("newuidmap", path: "/nonexistent") }
        #expect(error?.message == "newuidmap not found in PATH: mapping several id ranges without root needs it (Debian: apt-get install uidmap)")
    }
}
