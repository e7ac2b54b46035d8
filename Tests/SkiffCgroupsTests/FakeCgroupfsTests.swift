import Foundation
import Glibc
import Testing

import SkiffCgroups
import SkiffLinux

/// A cgroupfs stand-in: one directory per hierarchy under a temp dir. What the kernel would
/// do on its own (control files in a new cgroup) the test does by hand, named for it.
final class FakeCgroupfs {
    let root: String

    init() throws {
        var template = Array("/tmp/skiff-cgroupfs-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        root = String(cString: try #require(made))
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func hierarchy(_ name: String, _ version: CgroupHierarchy.Version = .v1, controllers: [String]? = nil,
                   ownPath: String = "/") throws -> CgroupHierarchy {
        try mkdir(name)
        return CgroupHierarchy(version: version, mountPoint: root + "/" + name,
                               controllers: version == .v2 ? [] : controllers ?? [name], ownPath: ownPath)
    }

    func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/" + relative, withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/" + relative))
    }

    func read(_ relative: String) throws -> String {
        try String(contentsOfFile: root + "/" + relative, encoding: .utf8)
    }

    func isDirectory(_ relative: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }

    /// What the kernel does on mkdir in a v1 cpuset hierarchy: empty cpus and mems.
    func kernelCreatesCpuset(_ relative: String) throws {
        try mkdir(relative)
        try write(relative + "/cpuset.cpus", "")
        try write(relative + "/cpuset.mems", "")
    }
}

@Suite struct FakeCgroupfsTests {
    let fs: FakeCgroupfs

    init() throws {
        fs = try FakeCgroupfs()
    }

    @Test func directoryOfAnAbsolutePathIgnoresTheOwnCgroup() throws {
        let memory = CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/memory", controllers: ["memory"],
                                     ownPath: "/process_api/17dc")
        let manager = try CgroupManager(hierarchies: [memory], cgroupsPath: "/skiff/web")
        #expect(manager.directory(in: memory) == "/sys/fs/cgroup/memory/skiff/web")
    }

    /// A relative cgroupsPath is below the runtime's own cgroup, as runc takes it.
    @Test func directoryOfARelativePathIsBelowTheOwnCgroup() throws {
        let memory = CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/memory", controllers: ["memory"],
                                     ownPath: "/process_api/17dc")
        let cpu = CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/cpu", controllers: ["cpu"], ownPath: "/")
        let manager = try CgroupManager(hierarchies: [memory, cpu], cgroupsPath: "skiff/web", relative: true)
        #expect(manager.directory(in: memory) == "/sys/fs/cgroup/memory/process_api/17dc/skiff/web")
        #expect(manager.directory(in: cpu) == "/sys/fs/cgroup/cpu/skiff/web")
        #expect(manager.directories == [
            "/sys/fs/cgroup/memory/process_api/17dc/skiff/web", "/sys/fs/cgroup/cpu/skiff/web",
        ])
    }

    @Test func createMakesTheDirectoryInEveryHierarchy() throws {
        let hierarchies = [try fs.hierarchy("cpu"), try fs.hierarchy("memory"), try fs.hierarchy("unified", .v2)]
        let manager = try CgroupManager(hierarchies: hierarchies, cgroupsPath: "/skiff/c1")
        try manager.create()
        #expect(fs.isDirectory("cpu/skiff/c1"))
        #expect(fs.isDirectory("memory/skiff/c1"))
        #expect(fs.isDirectory("unified/skiff/c1"))
    }

    @Test func createOfARelativePathGoesBelowTheOwnCgroup() throws {
        let memory = try fs.hierarchy("memory", ownPath: "/process_api/17dc")
        try fs.mkdir("memory/process_api/17dc")
        let manager = try CgroupManager(hierarchies: [memory], cgroupsPath: "skiff/c1", relative: true)
        try manager.create()
        #expect(fs.isDirectory("memory/process_api/17dc/skiff/c1"))
        #expect(!fs.isDirectory("memory/skiff"))
    }

    /// A new v1 cpuset cgroup has empty cpus and mems and refuses tasks until they are set:
    /// each new level gets its parent's values.
    @Test func createCopiesCpusetValuesDown() throws {
        let cpuset = try fs.hierarchy("cpuset")
        try fs.write("cpuset/cpuset.cpus", "0-7\n")
        try fs.write("cpuset/cpuset.mems", "0\n")
        try fs.kernelCreatesCpuset("cpuset/skiff")
        try fs.kernelCreatesCpuset("cpuset/skiff/c1")
        let manager = try CgroupManager(hierarchies: [cpuset], cgroupsPath: "/skiff/c1")
        try manager.create()
        #expect(try fs.read("cpuset/skiff/cpuset.cpus") == "0-7\n")
        #expect(try fs.read("cpuset/skiff/cpuset.mems") == "0\n")
        #expect(try fs.read("cpuset/skiff/c1/cpuset.cpus") == "0-7\n")
        #expect(try fs.read("cpuset/skiff/c1/cpuset.mems") == "0\n")
        #expect(try fs.read("cpuset/cpuset.cpus") == "0-7\n")
    }

    /// A level that already has values (set by an admin on the parent) keeps them, and the
    /// levels below inherit from it, not from the root.
    @Test func createInheritsCpusetFromTheNearestParent() throws {
        let cpuset = try fs.hierarchy("cpuset")
        try fs.write("cpuset/cpuset.cpus", "0-7\n")
        try fs.write("cpuset/cpuset.mems", "0-1\n")
        try fs.mkdir("cpuset/skiff")
        try fs.write("cpuset/skiff/cpuset.cpus", "2-3\n")
        try fs.write("cpuset/skiff/cpuset.mems", "1\n")
        try fs.kernelCreatesCpuset("cpuset/skiff/c1")
        let manager = try CgroupManager(hierarchies: [cpuset], cgroupsPath: "/skiff/c1")
        try manager.create()
        #expect(try fs.read("cpuset/skiff/cpuset.cpus") == "2-3\n")
        #expect(try fs.read("cpuset/skiff/c1/cpuset.cpus") == "2-3\n")
        #expect(try fs.read("cpuset/skiff/c1/cpuset.mems") == "1\n")
    }

    /// The cpuset copy applies to v1 hierarchies carrying cpuset, combined with others too.
    @Test func cpusetCopyOnlyWhereTheHierarchyHasCpuset() throws {
        let combined = try fs.hierarchy("cpuset,cpu", controllers: ["cpuset", "cpu"])
        let memory = try fs.hierarchy("memory")
        try fs.write("cpuset,cpu/cpuset.cpus", "0\n")
        try fs.write("cpuset,cpu/cpuset.mems", "0\n")
        try fs.kernelCreatesCpuset("cpuset,cpu/c1")
        let manager = try CgroupManager(hierarchies: [combined, memory], cgroupsPath: "/c1")
        try manager.create()
        #expect(try fs.read("cpuset,cpu/c1/cpuset.cpus") == "0\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: fs.root + "/memory/c1") == [])
    }

    /// When one hierarchy fails, the directories made in the others are removed again.
    @Test func createRollsBackOnFailure() throws {
        let cpu = try fs.hierarchy("cpu")
        let memory = try fs.hierarchy("memory")
        try fs.write("memory/skiff", "a file where the parent directory should be")
        let manager = try CgroupManager(hierarchies: [cpu, memory], cgroupsPath: "/skiff/c1")
        #expect(throws: LinuxError("mkdir", path: fs.root + "/memory/skiff/c1", errno: ENOTDIR)) {
            try manager.create()
        }
        #expect(!fs.isDirectory("cpu/skiff/c1"))
    }

    /// A cpuset hierarchy whose root has no values to copy is an error naming the file.
    @Test func createFailsWhenTheCpusetParentCannotBeRead() throws {
        let cpuset = try fs.hierarchy("cpuset")
        try fs.kernelCreatesCpuset("cpuset/c1")
        let manager = try CgroupManager(hierarchies: [cpuset], cgroupsPath: "/c1")
        #expect(throws: LinuxError("open", path: fs.root + "/cpuset/cpuset.cpus", errno: ENOENT)) {
            try manager.create()
        }
    }

    @Test func joinWritesThePidToEveryHierarchy() throws {
        let hierarchies = [try fs.hierarchy("cpu"), try fs.hierarchy("unified", .v2)]
        for name in ["cpu", "unified"] {
            try fs.mkdir(name + "/c1")
            try fs.write(name + "/c1/cgroup.procs", "")  // the kernel's control file
        }
        let manager = try CgroupManager(hierarchies: hierarchies, cgroupsPath: "/c1")
        try manager.join(pid: 4242)
        #expect(try fs.read("cpu/c1/cgroup.procs") == "4242")
        #expect(try fs.read("unified/c1/cgroup.procs") == "4242")
        #expect(manager.pids == [4242])
    }

    @Test func pidsOfAMissingCgroupAreEmpty() throws {
        let manager = try CgroupManager(hierarchies: [try fs.hierarchy("cpu")], cgroupsPath: "/gone")
        #expect(manager.pids == [])
    }

    @Test func destroyRemovesTheContainerDirectories() throws {
        let hierarchies = [try fs.hierarchy("cpu"), try fs.hierarchy("memory", ownPath: "/own"),
                           try fs.hierarchy("unified", .v2)]
        let manager = try CgroupManager(hierarchies: hierarchies, cgroupsPath: "skiff/c1", relative: true)
        try manager.create()
        #expect(fs.isDirectory("memory/own/skiff/c1"))
        try manager.destroy()
        #expect(!fs.isDirectory("cpu/skiff/c1"))
        #expect(!fs.isDirectory("memory/own/skiff/c1"))
        #expect(!fs.isDirectory("unified/skiff/c1"))
        // Shared parents stay: other containers live there.
        #expect(fs.isDirectory("cpu/skiff"))
    }

    @Test func destroyOfAnAlreadyRemovedCgroupSucceeds() throws {
        let manager = try CgroupManager(hierarchies: [try fs.hierarchy("cpu")], cgroupsPath: "/never")
        try manager.destroy()
    }

    /// Sub-cgroups made inside the container's (by `exec --cgroup`, or by a systemd in the
    /// container) go with it.
    @Test func destroyRemovesSubCgroups() throws {
        let manager = try CgroupManager(hierarchies: [try fs.hierarchy("cpu")], cgroupsPath: "/c1")
        try manager.create()
        try fs.mkdir("cpu/c1/child/grandchild")
        try manager.destroy()
        #expect(!fs.exists("cpu/c1"))
    }

    /// A cgroup that cannot be removed is reported by path, after the others are removed.
    @Test func destroyReportsWhatItCouldNotRemove() throws {
        let hierarchies = [try fs.hierarchy("cpu"), try fs.hierarchy("memory")]
        let manager = try CgroupManager(hierarchies: hierarchies, cgroupsPath: "/c1")
        try manager.create()
        try fs.write("cpu/c1/stray", "a plain file: rmdir must fail")
        #expect(throws: LinuxError("rmdir", path: fs.root + "/cpu/c1", errno: ENOTEMPTY)) {
            try manager.destroy()
        }
        #expect(fs.isDirectory("cpu/c1"))
        #expect(!fs.isDirectory("memory/c1"))
    }
}
