import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// process.ioPriority, process.scheduler, linux.personality, process.execCPUAffinity and
/// linux.memoryPolicy, each read back from inside the container the way a user would check it.
/// (runc 1.1.5 ignores all five: `none: prio 0`, policy 0, x86_64, 0-1, default.)
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct ProcessAttributeTests {
    /// ionice; the policy and nice from /proc/self/stat (fields 41 and 19); uname -m; the
    /// allowed CPUs; the task's memory policy as numa_maps prints it for the first mapping.
    static let probe = sh("""
        ionice -p $$
        set -- $(cat /proc/self/stat | sed 's/.*) //')
        echo "policy ${39} nice ${17}"
        uname -m
        grep Cpus_allowed_list /proc/self/status | tr -d '\\t'
        head -1 /proc/self/numa_maps | cut -d' ' -f2
        """)

    static func configure(_ spec: inout Spec) {
        spec.process?.ioPriority = LinuxIOPriority(class: "IOPRIO_CLASS_IDLE", priority: 0)
        spec.process?.scheduler = Scheduler(policy: "SCHED_BATCH", nice: 5)
        spec.process?.execCPUAffinity = CPUAffinity(initial: "0", final: "1")
        spec.linux?.personality = LinuxPersonality(domain: "LINUX32")
        spec.linux?.memoryPolicy = LinuxMemoryPolicy(mode: "MPOL_BIND", nodes: "0")
    }

    static var twoCPUs: Bool { sysconf(Int32(_SC_NPROCESSORS_ONLN)) >= 2 }

    @Test(.enabled(if: twoCPUs, "needs CPU 1 for execCPUAffinity.final"))
    func theFiveFieldsReachTheProcess() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("attrs")
            let bundle = try sandbox.bundle(args: Self.probe) { Self.configure(&$0) }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["idle", "policy 3 nice 5", "i686", "Cpus_allowed_list:1", "bind:0"], "\(outcome)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// The same probe without the fields: what the test above would read if they were ignored.
    @Test func withoutTheFieldsTheProcessHasTheDefaults() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("attrs-default")
            let outcome = sandbox.skiff("run", "--bundle", try sandbox.bundle(args: Self.probe), id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines.count == 5, "\(outcome)")
            #expect(outcome.lines.first == "none: prio 0" || outcome.lines.first == "none: prio 4", "\(outcome)")
            #expect(outcome.lines.dropFirst().first == "policy 0 nice 0")
            #expect(outcome.lines.dropFirst(2).first != "i686")
            #expect(outcome.lines.last == "default")
        }
    }

    /// An exec'd process gets the process's ioPriority, scheduler and execCPUAffinity too.
    @Test(.enabled(if: twoCPUs, "needs CPU 1 for execCPUAffinity.final"))
    func execAppliesTheProcessFields() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("attrs-exec")
            let bundle = try sandbox.bundle(args: ["sleep", "30"]) { spec in
                spec.process?.ioPriority = LinuxIOPriority(class: "IOPRIO_CLASS_BE", priority: 6)
                spec.process?.scheduler = Scheduler(policy: "SCHED_IDLE")
                spec.process?.execCPUAffinity = CPUAffinity(final: "1")
            }
            #expect(sandbox.skiff("run", "-d", "--bundle", bundle, id).succeeded)
            let exec = sandbox.skiff("exec", id, "sh", "-c", """
                ionice -p $$; set -- $(sed 's/.*) //' /proc/self/stat); echo "policy ${39}"
                grep Cpus_allowed_list /proc/self/status | tr -d '\\t'
                """)
            #expect(exec.succeeded, "\(exec)")
            #expect(exec.lines == ["best-effort: prio 6", "policy 5", "Cpus_allowed_list:1"], "\(exec)")
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A value the kernel refuses fails create with the field named, and leaves nothing.
    @Test(arguments: [
        ("process.execCPUAffinity.final: sched_setaffinity: invalid argument", ["process", "execCPUAffinity"], ["final": "4095"]),
        ("process.execCPUAffinity.initial: sched_setaffinity: invalid argument", ["process", "execCPUAffinity"], ["initial": "4095"]),
        ("process.execCPUAffinity.final: invalid CPU list \"1-0\"", ["process", "execCPUAffinity"], ["final": "1-0"]),
        ("process.scheduler: sched_setattr: invalid argument", ["process", "scheduler"], ["policy": "SCHED_ISO"]),
        ("linux.memoryPolicy: set_mempolicy: invalid argument", ["linux", "memoryPolicy"], ["mode": "MPOL_BIND", "nodes": "63"]),
    ])
    func aValueTheKernelRefusesFailsCreate(message: String, path: [String], value: [String: String]) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("attrs-bad")
            let bundle = try sandbox.bundle(args: ["true"], edits: [(path, value)])
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(!created.succeeded)
            #expect(created.stderr.contains(message), "\(created)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}

/// Fields skiff applies only where the host can, and those it does not implement yet: either
/// way create says so, naming the field, and leaves nothing behind.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct AppliedOrRefusedTests {
    static let v1TCP = "/sys/fs/cgroup/memory"

    /// memory.kernelTCP lands in the v1 memory.kmem.tcp.limit_in_bytes where the kernel has it
    /// (runc 1.1.5 warns "Kernel memory settings are ignored" and leaves it unlimited).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: v1TCP + "/memory.kmem.tcp.limit_in_bytes"),
                   "needs a cgroup v1 memory hierarchy with kmem.tcp"))
    func kernelTCPIsApplied() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("kernel-tcp")
            let bundle = try sandbox.bundle(args: ["true"]) { spec in
                spec.linux?.resources = LinuxResources(memory: LinuxMemory(kernelTCP: 48 << 20))
            }
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(created.succeeded, "\(created)")
            let value = readFile(Self.v1TCP + "/skiff/\(id)/memory.kmem.tcp.limit_in_bytes")?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(value == String(48 << 20))
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test(arguments: [
        ("linux.intelRdt: resctrl is not mounted at /sys/fs/resctrl", ["linux", "intelRdt"], ["closID": "c1"]),
        (#"linux.netDevices["dummy0"]: find link "dummy0": no such device"#, ["linux", "netDevices"], ["dummy0": "x"]),
        ("linux.resources.memory.kernel: kernel memory limits are not supported", ["linux", "resources", "memory"],
         ["kernel": "1048576"]),
    ])
    func refusedFieldsFailCreate(message: String, path: [String], value: [String: String]) throws {
        if path == ["linux", "intelRdt"], FileManager.default.fileExists(atPath: "/sys/fs/resctrl/schemata") { return }
        try Sandbox.with { sandbox in
            let id = sandbox.id("refused")
            // JSON numbers and objects where the spec wants them.
            let json: Any = path.last == "netDevices" ? ["dummy0": ["name": "x"]] as [String: Any]
                : path.last == "memory" ? ["kernel": 1_048_576] as [String: Any] : value
            let bundle = try sandbox.bundle(args: ["true"], edits: [(path, json)])
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(!created.succeeded)
            #expect(created.stderr.contains(message), "\(created)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}
