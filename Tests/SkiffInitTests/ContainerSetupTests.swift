import Glibc
import SkiffLinux
import SkiffOCI
import Testing

@testable import SkiffInit
@testable import SkiffInitProtocol

/// A new container's init beyond its rootfs (ContainerSetup) and the attributes its process
/// keeps across execve (ProcessTuning), run against RecordingKernel: which calls, in which
/// order, and what a refusal reads like.
@Suite struct ContainerSetupTests {
    static func spec(_ linux: String, hostname: String? = nil) throws -> Spec {
        let name = hostname.map { ",\"hostname\":\"\($0)\",\"domainname\":\"example.org\"" } ?? ""
        let json = "{\"ociVersion\":\"1.2.0\",\"root\":{\"path\":\"rootfs\"}\(name),\"linux\":\(linux)}"
        return try SkiffJSON.decode(Spec.self, from: Array(json.utf8), document: "config.json")
    }

    static func setup(_ spec: Spec) -> (ContainerSetup<RecordingKernel>, RecordingKernel) {
        let kernel = RecordingKernel(rootfs: "/bundle/rootfs")
        return (ContainerSetup(spec: spec, kernel: kernel), kernel)
    }

    /// The keyring is named after the container and opened to the process's uid.
    @Test func theSessionKeyringIsJoinedAndOpened() throws {
        let (setup, kernel) = Self.setup(try Self.spec("{}"))
        try setup.joinSessionKeyring("web")
        #expect(kernel.calls.map(\.description) == ["keyctl join _ses.web", "keyctl setperm 42 flags=0x3f1f0000"])
    }

    /// Kernels or user namespaces without keyrings are skipped, as runc does; anything else
    /// fails the create.
    @Test(arguments: [ENOSYS, EACCES, EPERM])
    func aKeyringTheKernelRefusesIsSkipped(errno: Int32) throws {
        let (setup, kernel) = Self.setup(try Self.spec("{}"))
        kernel.fail("keyctl join", at: "_ses.web", errno: errno)
        try setup.joinSessionKeyring("web")
        #expect(kernel.calls.map(\.operation) == ["keyctl join"])
    }

    @Test func anotherKeyringErrorFails() throws {
        let (setup, kernel) = Self.setup(try Self.spec("{}"))
        kernel.fail("keyctl join", at: "_ses.web", errno: EDQUOT)
        let error = #expect(throws: LinuxError.self) { try setup.joinSessionKeyring("web") }
        #expect(error?.code == EDQUOT)
    }

    /// The names are set in the container's own uts namespace, and only there.
    @Test func namesNeedAUTSNamespace() throws {
        let (withUTS, kernel) = Self.setup(try Self.spec(#"{"namespaces":[{"type":"uts"}]}"#, hostname: "web"))
        try withUTS.setNames()
        #expect(kernel.calls.map(\.description) == ["sethostname data=web", "setdomainname data=example.org"])
        let (without, noKernel) = Self.setup(try Self.spec("{}", hostname: "web"))
        try without.setNames()
        #expect(noKernel.calls.isEmpty)
        #expect(!without.hasUTS)
    }

    /// Sysctls in name order, dots turned into the path under /proc/sys.
    @Test func sysctlsAreWrittenInNameOrder() throws {
        let (setup, kernel) = Self.setup(try Self.spec(#"{"sysctl":{"net.ipv4.ip_forward":"1","kernel.shm_rmid_forced":"1","net.ipv4.conf.all.rp_filter":"2"}}"#))
        try setup.applySysctls()
        #expect(kernel.calls.map(\.description) == [
            "write /proc/sys/kernel/shm_rmid_forced data=1",
            "write /proc/sys/net/ipv4/conf/all/rp_filter data=2",
            "write /proc/sys/net/ipv4/ip_forward data=1",
        ])
    }

    /// A name that would leave /proc/sys is refused before anything is written.
    @Test(arguments: ["kernel/../../etc", "net/ipv4"])
    func aSysctlNameLeavingProcSysIsRefused(name: String) throws {
        let (setup, kernel) = Self.setup(try Self.spec("{\"sysctl\":{\"\(name)\":\"1\"}}"))
        let error = #expect(throws: SkiffError.self) { try setup.applySysctls() }
        #expect(error?.message == "linux.sysctl: invalid name \"\(name)\"")
        #expect(error?.kind == .invalidArgument)
        #expect(kernel.calls.isEmpty)
    }

    @Test func aRefusedSysctlNamesItAndKeepsTheErrno() throws {
        let (setup, kernel) = Self.setup(try Self.spec(#"{"sysctl":{"net.core.somaxconn":"4096"}}"#))
        kernel.fail("write", at: "/proc/sys/net/core/somaxconn", errno: EROFS)
        let error = #expect(throws: SkiffError.self) { try setup.applySysctls() }
        #expect(error?.message.hasPrefix("linux.sysctl \"net.core.somaxconn\": write \"/proc/sys/net/core/somaxconn\"") == true)
        #expect(error?.cause?.code == EROFS)
    }

    /// Without a mount namespace the process still gets root.path as its root; the host's
    /// /proc is opened first, for the exec.fifo after the chroot.
    @Test func withoutAMountNamespaceTheRootIsChrooted() throws {
        let (setup, kernel) = Self.setup(try Self.spec("{}"))
        _ = try setup.enterRootWithoutMountNamespace("/bundle/rootfs")
        #expect(kernel.calls.map(\.operation) == ["open", "chroot", "chdir"])
        #expect(kernel.calls.map(\.path) == ["/proc", "/bundle/rootfs", "/"])
    }

    /// The attributes a process keeps across execve, in the order init sets them: personality,
    /// scheduler, I/O priority, memory policy (all before the user switch), affinity last.
    @Test func tuningIsAppliedInOrderThroughTheKernel() throws {
        let process = try SkiffJSON.decode(SkiffOCI.Process.self, from: Array(#"""
            {"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},
             "scheduler":{"policy":"SCHED_BATCH","nice":5},
             "ioPriority":{"class":"IOPRIO_CLASS_BE","priority":4},
             "execCPUAffinity":{"final":"0-1"}}
            """#.utf8), document: "process")
        let linux = try SkiffJSON.decode(Linux.self, from: Array(#"{"personality":{"domain":"LINUX32"},"memoryPolicy":{"mode":"MPOL_BIND","nodes":"0"}}"#.utf8),
                                         document: "linux")
        let tuning = try ProcessTuning(process: process, linux: linux)
        let kernel = RecordingKernel(rootfs: "/", pivoted: true)
        try tuning.applyPrivileged(kernel)
        try tuning.applyFinalAffinity(kernel)
        #expect(kernel.calls.map(\.description) == [
            "personality flags=0x8",
            "sched_setattr flags=0x3 data=nice=5 priority=0",
            "ioprio_set data=2:4",
            "set_mempolicy flags=0x2 data=0",
            "sched_setaffinity data=0,1",
        ])
    }

    @Test func aRefusedSchedulerNamesTheField() throws {
        let process = try SkiffJSON.decode(SkiffOCI.Process.self, from: Array(#"""
            {"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0},"scheduler":{"policy":"SCHED_FIFO","priority":10}}
            """#.utf8), document: "process")
        let tuning = try ProcessTuning(process: process, linux: nil)
        let kernel = RecordingKernel(rootfs: "/", pivoted: true)
        kernel.fail("sched_setattr", errno: EPERM)
        let error = #expect(throws: SkiffError.self) { try tuning.applyPrivileged(kernel) }
        #expect(error?.message == "process.scheduler: sched_setattr: operation not permitted")
        #expect(error?.cause?.code == EPERM)
    }
}
