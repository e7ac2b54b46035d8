import Foundation
import Glibc
import Testing

@testable import SkiffCgroups

/// What the kernel puts in a new cgroup, per controller, for the fake cgroupfs: the control
/// files resources are written to and stats are read from, with the kernel's initial values.
enum FakeKernel {
    static let v1Files: [String: [String: String]] = [
        "memory": [
            "memory.limit_in_bytes": "9223372036854771712", "memory.soft_limit_in_bytes": "9223372036854771712",
            "memory.memsw.limit_in_bytes": "9223372036854771712", "memory.swappiness": "60",
            "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", "memory.usage_in_bytes": "0",
            "memory.max_usage_in_bytes": "0", "memory.failcnt": "0", "memory.stat": "cache 0\nrss 0\n",
            "memory.memsw.usage_in_bytes": "0", "memory.memsw.max_usage_in_bytes": "0", "memory.memsw.failcnt": "0",
        ],
        "cpu": [
            "cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "cpu.cfs_burst_us": "0",
            "cpu.idle": "0", "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0",
            "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
        ],
        "cpuacct": ["cpuacct.usage": "0", "cpuacct.usage_percpu": "0 0 \n", "cpuacct.stat": "user 0\nsystem 0\n"],
        "cpuset": ["cpuset.cpus": "", "cpuset.mems": ""],
        "pids": ["pids.max": "max", "pids.current": "0"],
        "blkio": [
            "blkio.bfq.weight": "100", "blkio.bfq.weight_device": "", "blkio.throttle.read_bps_device": "",
            "blkio.throttle.write_bps_device": "", "blkio.throttle.read_iops_device": "",
            "blkio.throttle.write_iops_device": "",
        ],
        "devices": ["devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"],
        "freezer": ["freezer.state": "THAWED\n"],
        "hugetlb": ["hugetlb.2MB.limit_in_bytes": "9223372036854771712", "hugetlb.2MB.usage_in_bytes": "0"],
        "net_cls": ["net_cls.classid": "0"],
        "net_prio": ["net_prio.ifpriomap": "lo 0\n"],
        "rdma": ["rdma.max": ""],
    ]

    static let v2Core: [String: String] = [
        "cgroup.procs": "", "cgroup.freeze": "0", "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.kill": "",
        "cgroup.subtree_control": "", "cgroup.controllers": "",
        "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
    ]

    static let v2Files: [String: [String: String]] = [
        "memory": [
            "memory.max": "max", "memory.low": "0", "memory.swap.max": "max", "memory.current": "0",
            "memory.swap.current": "0", "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n", "memory.stat": "anon 0\nfile 0\n",
        ],
        "cpu": ["cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0"],
        "cpuset": ["cpuset.cpus": "", "cpuset.mems": ""],
        "pids": ["pids.max": "max", "pids.current": "0"],
        "io": ["io.weight": "default 100", "io.max": "", "io.stat": ""],
        "hugetlb": ["hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max", "hugetlb.2MB.current": "0",
                    "hugetlb.2MB.events": "max 0\n"],
        "rdma": ["rdma.max": ""],
    ]
}

extension FakeCgroupfs {
    /// v1 hierarchies, one per controller, each with the container's cgroup at `container`
    /// as the kernel makes it.
    func v1Host(_ controllers: [String], container: String = "skiff/c1") throws -> [CgroupHierarchy] {
        try controllers.map { controller in
            let hierarchy = try self.hierarchy(controller)
            if controller == "cpuset" {
                try write("cpuset/cpuset.cpus", "0-3\n")
                try write("cpuset/cpuset.mems", "0\n")
            }
            try kernelCreates(controller, container: controller + "/" + container, version: .v1)
            return hierarchy
        }
    }

    /// A cgroup2 hierarchy at `name` offering `controllers`, with the container's cgroup.
    func v2Host(_ controllers: [String], name: String = "unified", container: String = "skiff/c1") throws -> CgroupHierarchy {
        let hierarchy = try self.hierarchy(name, .v2)
        try write(name + "/cgroup.controllers", controllers.joined(separator: " ") + "\n")
        try write(name + "/cgroup.subtree_control", "\n")
        var level = name
        for component in container.split(separator: "/").dropLast() {
            level += "/" + component
            try mkdir(level)
            // What the parent delegates (the kernel fills it from the parent's subtree_control;
            // the test takes everything as delegated).
            try write(level + "/cgroup.controllers", controllers.joined(separator: " ") + "\n")
            try write(level + "/cgroup.subtree_control", "")
        }
        try mkdir(name + "/" + container)
        for controller in controllers { try kernelCreates(controller, container: name + "/" + container, version: .v2) }
        for (file, value) in FakeKernel.v2Core { try write(name + "/" + container + "/" + file, value) }
        return hierarchy
    }

    func kernelCreates(_ controller: String, container: String, version: CgroupHierarchy.Version) throws {
        try mkdir(container)
        let files = version == .v1 ? FakeKernel.v1Files[controller] : FakeKernel.v2Files[controller]
        for (file, value) in files ?? [:] { try write(container + "/" + file, value) }
        if version == .v1 { try write(container + "/cgroup.procs", "") }
    }

    func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: root + "/" + relative)
    }
}

/// Runs `body` recording every control-file write; returns them as "relative/path <- value".
func recordingWrites(_ fs: FakeCgroupfs, _ body: () throws -> Void) rethrows -> [String] {
    let log = CgroupWriteLog()
    try CgroupWriteLog.recording(into: log) { try body() }
    return log.entries.map { String($0.path.dropFirst(fs.root.count + 1)) + " <- " + $0.value }
}

/// The error `body` throws, as its text.
func errorText(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}
