import Foundation
import Glibc
import Testing

import SkiffOCI
@testable import SkiffCgroups

/// linux.resources on cgroup v2 (pure, and hybrid beside v1 hierarchies): v1's config values
/// converted as runc converts them, and the files they land in.
@Suite struct ResourcesV2Tests {
    let fs: FakeCgroupfs

    init() throws {
        fs = try FakeCgroupfs()
    }

    static let all = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]

    func manager(_ controllers: [String] = all) throws -> CgroupManager {
        try CgroupManager(hierarchies: [try fs.v2Host(controllers)], cgroupsPath: "/skiff/c1")
    }

    @Test func memoryLimitReservationAndSwap() throws {
        let m = try manager()
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20)))
        }
        // swap is memory+swap in the config; memory.swap.max is the swap alone.
        #expect(writes == ["unified/skiff/c1/memory.swap.max <- 33554432", "unified/skiff/c1/memory.max <- 67108864",
                           "unified/skiff/c1/memory.low <- 33554432"])
    }

    @Test(arguments: [
        // (limit, swap) -> memory.swap.max, memory.max
        (Int64(-1), Int64(0), ["memory.swap.max <- max", "memory.max <- max"]),
        (64 << 20, 64 << 20, ["memory.swap.max <- 0", "memory.max <- 67108864"]),
        (64 << 20, -1, ["memory.swap.max <- max", "memory.max <- 67108864"]),
        (64 << 20, 0, ["memory.max <- 67108864"]),
    ])
    func swapConversion(limit: Int64, swap: Int64, expected: [String]) throws {
        let m = try manager()
        let writes = try recordingWrites(fs) { try m.apply(LinuxResources(memory: LinuxMemory(limit: limit, swap: swap))) }
        #expect(writes == expected.map { "unified/skiff/c1/" + $0 })
    }

    @Test func swapBelowMemoryIsAnError() throws {
        let m = try manager()
        #expect(errorText { try m.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20, swap: 32 << 20))) }
            == "linux.resources.memory.swap: 33554432 is below linux.resources.memory.limit 67108864 (swap counts memory+swap)")
        #expect(errorText { try m.apply(LinuxResources(memory: LinuxMemory(swap: 32 << 20))) }
            == "linux.resources.memory.swap: cannot limit swap without a memory limit")
    }

    /// A kernel without swap accounting has no memory.swap.max: "no swap" and "unlimited"
    /// need no file.
    @Test func swapWithoutSwapAccounting() throws {
        let m = try manager()
        try FileManager.default.removeItem(atPath: fs.root + "/unified/skiff/c1/memory.swap.max")
        try m.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20, swap: 64 << 20)))
        try m.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20, swap: -1)))
        #expect(errorText { try m.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20, swap: 128 << 20))) }?
            .hasPrefix("linux.resources.memory.swap: cannot apply: \"\(fs.root)/unified/skiff/c1/memory.swap.max\" does not exist") == true)
    }

    @Test func kernelTCPIsRefused() throws {
        let m = try manager()
        #expect(errorText { try m.apply(LinuxResources(memory: LinuxMemory(kernelTCP: 1 << 20))) }?
            .contains("(cgroup v2 has no TCP memory limit)") == true)
    }

    /// v2 has no swappiness nor OOM-killer switch: runc ignores them there; skiff warns.
    @Test func v1OnlyMemoryFieldsWarn() throws {
        let m = try manager()
        let warnings = try m.apply(LinuxResources(memory: LinuxMemory(swappiness: 0, disableOOMKiller: true)))
        #expect(warnings == [
            "linux.resources.memory.swappiness: ignored, cgroup v2 has no per-cgroup swappiness",
            "linux.resources.memory.disableOOMKiller: ignored, cgroup v2 cannot disable the OOM killer",
        ])
    }

    @Test func checkBeforeUpdate() throws {
        let m = try manager()
        try fs.write("unified/skiff/c1/memory.current", "50000000\n")
        #expect(errorText { try m.apply(LinuxResources(memory: LinuxMemory(limit: 10_000_000, checkBeforeUpdate: true))) }
            == "linux.resources.memory.limit: rejecting 10000000, below the current usage 50000000 (memory.current, checkBeforeUpdate)")
        #expect(try fs.read("unified/skiff/c1/memory.max") == "max")
    }

    /// cpu.shares becomes cpu.weight by runc's conversion; quota and period share cpu.max.
    @Test func cpuSharesQuotaPeriodBurstIdle() throws {
        let m = try manager()
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(cpu: LinuxCPU(shares: 512, quota: 50_000, burst: 20_000, period: 200_000, cpus: "0", mems: "0",
                                                     idle: 0)))
        }
        #expect(writes == [
            "unified/skiff/c1/cpuset.cpus <- 0", "unified/skiff/c1/cpuset.mems <- 0",
            "unified/skiff/c1/cpu.idle <- 0", "unified/skiff/c1/cpu.weight <- 59",
            "unified/skiff/c1/cpu.max.burst <- 20000", "unified/skiff/c1/cpu.max <- 50000 200000",
        ])
    }

    @Test(arguments: [
        (Int64(50_000), UInt64(0), "50000"),
        (-1, 0, "max"),
        (0, 250_000, "max 250000"),
        (-1, 100_000, "max 100000"),
    ])
    func cpuMax(quota: Int64, period: UInt64, expected: String) throws {
        let m = try manager()
        try m.apply(LinuxResources(cpu: LinuxCPU(quota: quota, period: period)))
        #expect(try fs.read("unified/skiff/c1/cpu.max") == expected)
    }

    @Test func realtimeIsAnErrorOnV2() throws {
        let m = try manager()
        #expect(errorText { try m.apply(LinuxResources(cpu: LinuxCPU(realtimeRuntime: 950))) }
            == "linux.resources.cpu.realtimeRuntime: cannot apply: \"\(fs.root)/unified/skiff/c1/cpu.rt_runtime_us\" does not exist (cgroup v2 has no realtime cpu limits)")
    }

    /// Without BFQ, blkio weight 10…1000 maps linearly onto io.weight 1…10000; throttles go to
    /// io.max as "major:minor key=rate".
    @Test func ioWeightConversionAndThrottles() throws {
        let m = try manager()
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(blockIO: LinuxBlockIO(
                weight: 500, throttleReadBpsDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 1_048_576)],
                throttleWriteBpsDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 2048)],
                throttleReadIOPSDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 100)],
                throttleWriteIOPSDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 10)])))
        }
        #expect(writes == [
            "unified/skiff/c1/io.weight <- 4950",
            "unified/skiff/c1/io.max <- 8:0 rbps=1048576", "unified/skiff/c1/io.max <- 8:0 wbps=2048",
            "unified/skiff/c1/io.max <- 8:0 riops=100", "unified/skiff/c1/io.max <- 8:0 wiops=10",
        ])
    }

    /// With BFQ, io.bfq.weight takes v1's value unconverted, and per-device weights as lines
    /// (a kernel that reads back "default N" has them).
    @Test func ioBFQWeight() throws {
        let m = try manager()
        try fs.write("unified/skiff/c1/io.bfq.weight", "default 100\n")
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(blockIO: LinuxBlockIO(weight: 500, weightDevice: [LinuxWeightDevice(major: 8, minor: 0, weight: 300)])))
        }
        #expect(writes == ["unified/skiff/c1/io.bfq.weight <- 500", "unified/skiff/c1/io.bfq.weight <- 8:0 300"])
    }

    @Test func hugetlbAndReservations() throws {
        let m = try manager()
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(hugepageLimits: [LinuxHugepageLimit(pageSize: "2MB", limit: 8 << 20)]))
        }
        #expect(writes == ["unified/skiff/c1/hugetlb.2MB.max <- 8388608", "unified/skiff/c1/hugetlb.2MB.rsvd.max <- 8388608"])
    }

    @Test func pidsAndRdma() throws {
        let m = try manager()
        try m.apply(LinuxResources(pids: LinuxPids(limit: 100), rdma: ["mlx4_0": LinuxRdma(hcaObjects: 7)]))
        #expect(try fs.read("unified/skiff/c1/pids.max") == "100")
        #expect(try fs.read("unified/skiff/c1/rdma.max") == "mlx4_0 hca_object=7")
    }

    /// net_cls and net_prio exist only on v1.
    @Test func networkIsAnErrorOnPureV2() throws {
        let m = try manager()
        #expect(errorText { try m.apply(LinuxResources(network: LinuxNetwork(classID: 1))) }
            == "linux.resources.network.classID: cannot apply: \"net_cls.classid\" does not exist (cgroup v2 has no net_cls controller)")
        try m.apply(LinuxResources(network: LinuxNetwork(classID: 0, priorities: [])))
    }

    @Test func unifiedWritesFilesLineByLine() throws {
        let m = try manager()
        try fs.write("unified/skiff/c1/memory.high", "max")
        try fs.write("unified/skiff/c1/cgroup.max.descendants", "max")
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(unified: ["memory.high": "1073741824", "io.max": "8:0 rbps=1\n8:16 wbps=2\n",
                                                 "cgroup.max.descendants": "10"]))
        }
        #expect(writes == ["unified/skiff/c1/cgroup.max.descendants <- 10", "unified/skiff/c1/io.max <- 8:0 rbps=1",
                           "unified/skiff/c1/io.max <- 8:16 wbps=2", "unified/skiff/c1/memory.high <- 1073741824"])
    }

    @Test func unifiedRefusals() throws {
        let m = try manager(["cpu", "memory"])
        try fs.write("unified/cgroup.controllers", "cpu memory\n")
        #expect(errorText { try m.apply(LinuxResources(unified: ["../memory.max": "1"])) }
            == "linux.resources.unified[\"../memory.max\"]: must be a file name of the form CONTROLLER.PARAMETER")
        #expect(errorText { try m.apply(LinuxResources(unified: ["nodot": "1"])) }
            == "linux.resources.unified[\"nodot\"]: must be a file name of the form CONTROLLER.PARAMETER")
        #expect(errorText { try m.apply(LinuxResources(unified: ["rdma.max": "x"])) }
            == "linux.resources.unified[\"rdma.max\"]: cannot apply: \"\(fs.root)/unified/skiff/c1/rdma.max\" does not exist (no rdma controller on cgroup v2 here)")
        #expect(errorText { try m.apply(LinuxResources(unified: ["memory.bogus": "x"])) }
            == "linux.resources.unified[\"memory.bogus\"]: cannot apply: \"\(fs.root)/unified/skiff/c1/memory.bogus\" does not exist (the kernel does not offer it)")
    }

    /// A hybrid host: the v1 hierarchies drive their controllers, cgroup2 what is left there
    /// (hugetlb on this project's CI machine).
    @Test func hybridRoutesEachControllerToItsHierarchy() throws {
        var hierarchies = try fs.v1Host(["memory", "pids"])
        hierarchies.append(try fs.v2Host(["hugetlb"]))
        let m = try CgroupManager(hierarchies: hierarchies, cgroupsPath: "/skiff/c1")
        #expect(m.v2Controllers == ["hugetlb"])
        #expect(m.hierarchy(for: "memory")?.version == .v1)
        #expect(m.hierarchy(for: "hugetlb")?.version == .v2)
        #expect(m.hierarchy(for: "freezer")?.version == .v2)
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(memory: LinuxMemory(limit: 1 << 30), pids: LinuxPids(limit: 5),
                                       hugepageLimits: [LinuxHugepageLimit(pageSize: "2MB", limit: 2 << 20)]))
        }
        #expect(writes == ["memory/skiff/c1/memory.limit_in_bytes <- 1073741824", "pids/skiff/c1/pids.max <- 5",
                           "unified/skiff/c1/hugetlb.2MB.max <- 2097152", "unified/skiff/c1/hugetlb.2MB.rsvd.max <- 2097152"])
        #expect(errorText { try m.apply(LinuxResources(unified: ["memory.high": "1G"])) }
            == "linux.resources.unified[\"memory.high\"]: cannot apply: the memory controller is on a cgroup v1 hierarchy here, not on cgroup v2")
    }

    /// Only the controllers cgroup2 drives are taken from its cgroup.controllers: on a hybrid
    /// host a v1 controller listed there stays with v1.
    @Test func v2ControllersExcludeV1Ones() throws {
        var hierarchies = try fs.v1Host(["memory"])
        hierarchies.append(try fs.v2Host(["memory", "hugetlb"]))
        let m = try CgroupManager(hierarchies: hierarchies, cgroupsPath: "/skiff/c1")
        #expect(m.v2Controllers == ["hugetlb"])
    }

    /// create delegates the controllers down to the container's parent, level by level.
    @Test func createEnablesControllersInEachParent() throws {
        let v2 = try fs.v2Host(["cpu", "memory", "pids"], container: "a/b/c1")
        let m = try CgroupManager(hierarchies: [v2], cgroupsPath: "/a/b/c1")
        let writes = try recordingWrites(fs) { try m.create() }
        #expect(writes == ["unified/cgroup.subtree_control <- +cpu +memory +pids",
                           "unified/a/cgroup.subtree_control <- +cpu +memory +pids",
                           "unified/a/b/cgroup.subtree_control <- +cpu +memory +pids"])
        // Already enabled: nothing to write.
        try fs.write("unified/cgroup.subtree_control", "cpu memory pids\n")
        try fs.write("unified/a/cgroup.subtree_control", "cpu memory pids\n")
        try fs.write("unified/a/b/cgroup.subtree_control", "cpu memory\n")
        #expect(try recordingWrites(fs) { try m.create() } == ["unified/a/b/cgroup.subtree_control <- +pids"])
    }
}
