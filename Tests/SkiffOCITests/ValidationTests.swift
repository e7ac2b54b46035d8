import Foundation
import Testing

@testable import SkiffOCI

@Suite("validate() names the field runc would reject")
struct ValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let path: String
        let message: String
        let change: @Sendable (inout Spec) -> Void

        init(_ path: String, _ message: String, _ change: @escaping @Sendable (inout Spec) -> Void) {
            self.path = path
            self.message = message
            self.change = change
        }

        var testDescription: String { "\(path): \(message)" }
    }

    static let cases: [Case] = [
        // The document.
        Case("ociVersion", "must not be empty") { $0.ociVersion = "" },
        Case("root", "missing required field") { $0.root = nil },
        Case("root.path", "must not be empty") { $0.root?.path = "" },
        Case("hostname", "requires a uts namespace") { $0.linux?.namespaces?.removeAll { $0.type == .uts } },

        // process.
        Case("process.args", "must not be empty") { $0.process?.args = [] },
        Case("process.args", "must not be empty") { $0.process?.args = nil },
        Case("process.args[0]", "must not be empty") { $0.process?.args = ["", "-c", "true"] },
        // (uid_t)-1 is setresuid's "no change": the process would keep the runtime's uid 0.
        Case("process.user.uid", "4294967295 is out of range: uids and gids must be in range 0-2147483647") {
            $0.process?.user.uid = 4_294_967_295
        },
        Case("process.user.gid", "2147483648 is out of range: uids and gids must be in range 0-2147483647") {
            $0.process?.user.gid = 2_147_483_648
        },
        Case("process.user.additionalGids[1]", "4294967295 is out of range: uids and gids must be in range 0-2147483647") {
            $0.process?.user.additionalGids = [10, 4_294_967_295]
        },
        Case("process.cwd", "must be an absolute path") { $0.process?.cwd = "home" },
        Case("process.cwd", "must be an absolute path") { $0.process?.cwd = "" },
        Case("process.env[2]", #""FOO" is not NAME=value"#) { $0.process?.env?.append("FOO") },
        Case("process.env[2]", #""=x" is not NAME=value"#) { $0.process?.env?.append("=x") },
        Case("process.rlimits[0].type", #"unknown rlimit "RLIMIT_FOO""#) {
            $0.process?.rlimits = [POSIXRlimit(type: "RLIMIT_FOO", hard: 1, soft: 1)]
        },
        Case("process.rlimits[0].soft", "soft limit 2048 exceeds hard limit 1024") {
            $0.process?.rlimits = [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 2048)]
        },
        Case("process.rlimits[1].type", #"duplicate rlimit "RLIMIT_NOFILE""#) {
            $0.process?.rlimits?.append(POSIXRlimit(type: "RLIMIT_NOFILE", hard: 10, soft: 10))
        },
        Case("process.oomScoreAdj", "must be between -1000 and 1000") { $0.process?.oomScoreAdj = 1001 },
        Case("process.ioPriority.class", #"unknown I/O priority class "IOPRIO_CLASS_NONE""#) {
            $0.process?.ioPriority = LinuxIOPriority(class: "IOPRIO_CLASS_NONE", priority: 0)
        },
        Case("process.ioPriority.priority", "must be between 0 and 7") {
            $0.process?.ioPriority = LinuxIOPriority(class: "IOPRIO_CLASS_BE", priority: 8)
        },
        Case("process.scheduler.policy", #"unknown scheduler policy "SCHED_FAST""#) {
            $0.process?.scheduler = Scheduler(policy: "SCHED_FAST")
        },

        // mounts and hooks.
        Case("mounts[1].destination", "must be an absolute path") { $0.mounts?[1].destination = "dev" },
        Case("hooks.poststart[0].path", "must be an absolute path") {
            $0.hooks = Hooks(poststart: [Hook(path: "notify.sh")])
        },
        Case("hooks.createRuntime[1].timeout", "must be greater than zero") {
            $0.hooks = Hooks(createRuntime: [Hook(path: "/bin/a"), Hook(path: "/bin/b", timeout: 0)])
        },

        // linux.namespaces and mappings.
        Case("linux.namespaces[3].type", #"duplicate namespace "pid""#) {
            $0.linux?.namespaces = [LinuxNamespace(type: .pid), LinuxNamespace(type: .network),
                                    LinuxNamespace(type: .uts), LinuxNamespace(type: .pid), LinuxNamespace(type: .mount)]
        },
        Case("mounts", "requires a mount namespace") { $0.linux?.namespaces?.removeAll { $0.type == .mount } },
        Case("linux.namespaces[1].path", "must be an absolute path") {
            $0.linux?.namespaces?[1].path = "proc/1/ns/net"
        },
        Case("linux.uidMappings", "mappings require a user namespace") {
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)]
        },
        Case("linux.gidMappings", "mappings require a user namespace") {
            $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)]
        },
        Case("linux.uidMappings", "must not be empty with a new user namespace") {
            $0.linux?.namespaces?.append(LinuxNamespace(type: .user))
        },
        Case("linux.gidMappings", "must not be empty with a new user namespace") {
            $0.linux?.namespaces?.append(LinuxNamespace(type: .user))
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 65536)]
        },
        Case("linux.uidMappings[0].size", "must be greater than zero") {
            $0.linux?.namespaces?.append(LinuxNamespace(type: .user))
            $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 0)]
            $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)]
        },

        // linux.sysctl: only what a namespace of the container isolates.
        Case(#"linux.sysctl["kernel.shmmax"]"#, "requires an ipc namespace") {
            $0.linux?.namespaces?.removeAll { $0.type == .ipc }
            $0.linux?.sysctl = ["kernel.shmmax": "1"]
        },
        Case(#"linux.sysctl["fs.mqueue.msg_max"]"#, "requires an ipc namespace") {
            $0.linux?.namespaces?.removeAll { $0.type == .ipc }
            $0.linux?.sysctl = ["fs.mqueue.msg_max": "100"]
        },
        Case(#"linux.sysctl["net.ipv4.ip_forward"]"#, "requires a network namespace") {
            $0.linux?.namespaces?.removeAll { $0.type == .network }
            $0.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
        },
        Case(#"linux.sysctl["vm.swappiness"]"#, "not isolated by a namespace, so setting it would change the host") {
            $0.linux?.sysctl = ["vm.swappiness": "10"]
        },
        Case(#"linux.sysctl["kernel.hostname"]"#, "conflicts with the hostname field") {
            $0.linux?.sysctl = ["kernel.hostname": "x"]
        },
        Case(#"linux.sysctl["net..ipv4"]"#, "invalid sysctl name") { $0.linux?.sysctl = ["net..ipv4": "1"] },
        Case(#"linux.sysctl["net.ipv4.conf.all.forwarding "]"#, "invalid sysctl name") {
            $0.linux?.sysctl = ["net.ipv4.conf.all.forwarding ": "1"]
        },

        // linux.devices, timeOffsets, propagation, paths.
        Case("linux.devices[0].type", #"unknown device type "x""#) {
            $0.linux?.devices = [LinuxDevice(path: "/dev/null", type: "x", major: 1, minor: 3)]
        },
        Case("linux.devices[1].path", "must be an absolute path") {
            $0.linux?.devices = [LinuxDevice(path: "/dev/fuse", type: "c", major: 10, minor: 229),
                                 LinuxDevice(path: "dev/kvm", type: "c", major: 10, minor: 232)]
        },
        Case("linux.timeOffsets", "requires a new time namespace") {
            $0.linux?.timeOffsets = ["monotonic": LinuxTimeOffset(secs: 10)]
        },
        Case("linux.timeOffsets.realtime", #"unknown clock "realtime""#) {
            $0.linux?.namespaces?.append(LinuxNamespace(type: .time))
            $0.linux?.timeOffsets = ["realtime": LinuxTimeOffset(secs: 10)]
        },
        Case("linux.timeOffsets.boottime.nanosecs", "must be less than 1000000000") {
            $0.linux?.namespaces?.append(LinuxNamespace(type: .time))
            $0.linux?.timeOffsets = ["boottime": LinuxTimeOffset(secs: 1, nanosecs: 1_000_000_000)]
        },
        Case("linux.rootfsPropagation", #"unknown propagation "bogus""#) { $0.linux?.rootfsPropagation = "bogus" },
        Case("linux.maskedPaths[0]", "must be an absolute path") { $0.linux?.maskedPaths?[0] = "proc/acpi" },
        Case("linux.readonlyPaths[4]", "must be an absolute path") { $0.linux?.readonlyPaths?[4] = "" },

        // linux.resources.
        Case("linux.resources.devices[1].type", #"unknown device type "p""#) {
            $0.linux?.resources?.devices?.append(LinuxDeviceCgroup(allow: true, type: "p", access: "r"))
        },
        Case("linux.resources.devices[1].access", #"invalid access "rwx", must be made of r, w and m"#) {
            $0.linux?.resources?.devices?.append(LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rwx"))
        },
        Case("linux.resources.memory.swappiness", "must be between 0 and 100") {
            $0.linux?.resources?.memory = LinuxMemory(swappiness: 101)
        },

        // linux.seccomp.
        Case("linux.seccomp.defaultAction", #"unknown seccomp action "SCMP_ACT_MAYBE""#) {
            $0.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_MAYBE")
        },
        Case("linux.seccomp.syscalls[0].names", "must not be empty") {
            $0.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [LinuxSyscall(names: [], action: "SCMP_ACT_KILL")])
        },
        Case("linux.seccomp.syscalls[0].args[0].index", "must be less than 6") {
            $0.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
                LinuxSyscall(names: ["ioctl"], action: "SCMP_ACT_ERRNO", args: [LinuxSeccompArg(index: 6, value: 0, op: "SCMP_CMP_EQ")]),
            ])
        },
        Case("linux.seccomp.syscalls[0].args[0].op", #"unknown seccomp operator "SCMP_CMP_IN""#) {
            $0.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
                LinuxSyscall(names: ["ioctl"], action: "SCMP_ACT_ERRNO", args: [LinuxSeccompArg(index: 1, value: 0, op: "SCMP_CMP_IN")]),
            ])
        },
        Case("linux.seccomp.syscalls[0].errnoRet", "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE") {
            $0.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", syscalls: [
                LinuxSyscall(names: ["read"], action: "SCMP_ACT_ALLOW", errnoRet: 1),
            ])
        },
        Case("linux.seccomp.listenerPath", "required by SCMP_ACT_NOTIFY") {
            $0.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
                LinuxSyscall(names: ["mknod"], action: "SCMP_ACT_NOTIFY"),
            ])
        },
        Case("linux.seccomp.syscalls[0].names[1]", "SCMP_ACT_NOTIFY cannot be used for the write syscall") {
            $0.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/agent.sock", syscalls: [
                LinuxSyscall(names: ["read", "write"], action: "SCMP_ACT_NOTIFY"),
            ])
        },
        Case("linux.seccomp.architectures[1]", #"unknown seccomp architecture "x86_64""#) {
            $0.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "x86_64"])
        },

        // The rest of linux.
        Case("linux.personality.domain", #"unknown personality domain "LINUX64""#) {
            $0.linux?.personality = LinuxPersonality(domain: "LINUX64")
        },
        Case("linux.memoryPolicy.mode", #"unknown memory policy mode "MPOL_FAST""#) {
            $0.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_FAST", nodes: "0")
        },
        Case("linux.netDevices", "requires a new network namespace") {
            $0.linux?.namespaces?.removeAll { $0.type == .network }
            $0.linux?.netDevices = ["eth1": LinuxNetDevice(name: "net1")]
        },
        Case(#"linux.netDevices["eth/1"]"#, #"invalid interface name "eth/1""#) {
            $0.linux?.netDevices = ["eth/1": LinuxNetDevice()]
        },
        Case(#"linux.netDevices["eth1"].name"#, #"interface name "a-name-of-16-byte" must be 1 to 15 bytes"#) {
            $0.linux?.netDevices = ["eth1": LinuxNetDevice(name: "a-name-of-16-byte")]
        },
        Case(#"linux.netDevices["eth2"].name"#, #"duplicate interface name "eth1" in the container"#) {
            $0.linux?.netDevices = ["eth1": LinuxNetDevice(), "eth2": LinuxNetDevice(name: "eth1")]
        },
        // Idmapped mounts: runc 1.2's rules.
        Case("mounts[0].uidMappings", "idmapped mounts are only supported for bind mounts") {
            $0.mounts?[0].uidMappings = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)]
            $0.mounts?[0].gidMappings = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)]
        },
        Case("mounts[7].gidMappings", "idmapped mounts need both uidMappings and gidMappings") {
            $0.mounts?.append(Mount(destination: "/data", type: "bind", source: "/srv", options: ["rbind"],
                                    gidMappings: [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)]))
        },
        Case("mounts[7].options", #""ridmap" without uidMappings and gidMappings takes the container's user namespace maps, and there are none"#) {
            $0.mounts?.append(Mount(destination: "/data", type: "bind", source: "/srv", options: ["rbind", "ridmap"]))
        },
        Case("linux.resources.memory.useHierarchy", "false is not supported, the kernel always accounts hierarchically") {
            $0.linux?.resources = LinuxResources(memory: LinuxMemory(useHierarchy: false))
        },
    ]

    @Test("each rule gives its path and message", arguments: cases)
    func rule(_ c: Case) {
        var spec = Spec.runcDefault()
        c.change(&spec)
        #expect(validationError(spec) == SpecError(path: c.path, message: c.message))
    }

    @Test("valid variations pass")
    func validVariations() {
        var spec = Spec.runcDefault()
        // Joining an existing user namespace brings its mappings along.
        spec.linux?.namespaces?.append(LinuxNamespace(type: .user, path: "/proc/42/ns/user"))
        // runc accepts "/" as the sysctl separator, and net.* under a network namespace.
        spec.linux?.sysctl = ["net/ipv4/ip_forward": "1", "kernel.msgmax": "8192", "kernel.domainname": "example.org"]
        spec.linux?.namespaces?.append(LinuxNamespace(type: .time))
        spec.linux?.timeOffsets = ["monotonic": LinuxTimeOffset(secs: -5), "boottime": LinuxTimeOffset(nanosecs: 999_999_999)]
        spec.linux?.rootfsPropagation = "rslave"
        spec.linux?.devices = [LinuxDevice(path: "/dev/fifo0", type: "p")]
        spec.linux?.seccomp = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
            flags: ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"], listenerPath: "/run/agent.sock", listenerMetadata: "x",
            syscalls: [LinuxSyscall(names: ["mknod"], action: "SCMP_ACT_NOTIFY")])
        spec.hooks = Hooks(createRuntime: [Hook(path: "/usr/bin/hook", timeout: 5)])
        spec.process?.scheduler = Scheduler(policy: "SCHED_IDLE", flags: ["SCHED_FLAG_RESET_ON_FORK"])
        spec.process?.ioPriority = LinuxIOPriority(class: "IOPRIO_CLASS_IDLE", priority: 7)
        #expect(spec.validationErrors() == [])
    }

    @Test("validationErrors lists every problem in document order")
    func allErrors() {
        var spec = Spec.runcDefault()
        spec.process?.args = []
        spec.mounts?[0].destination = "proc"
        spec.linux?.rootfsPropagation = "nope"
        #expect(spec.validationErrors().map(\.path) == ["process.args", "mounts[0].destination", "linux.rootfsPropagation"])
    }

    @Test("a process.json for exec validates on its own")
    func processDocument() throws {
        let process = try Process.decode(Data(#"{"args": [], "cwd": "/"}"#.utf8))
        #expect(throws: SpecError(path: "args", message: "must not be empty")) { try process.validate() }
        #expect(
            (try? Process.decode(Data(#"{"args": ["sh"]}"#.utf8))) == nil,
            "cwd is required")
        #expect(throws: SpecError(path: "user.uid", message: "expected unsigned 32-bit integer, found string")) {
            try Process.decode(Data(#"{"user": {"uid": "root", "gid": 0}, "cwd": "/"}"#.utf8))
        }
        #expect(throws: SpecError(path: "process.json", message: "malformed JSON: expected a string key, found end of input at line 1, column 2")) {
            try Process.decode(Data("{".utf8))
        }
    }
}
