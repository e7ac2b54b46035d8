import Foundation
import Glibc
import Testing

import SkiffOCI
@testable import SkiffCgroups

/// linux.resources on cgroup v1: which file each field lands in, with which value, in which
/// order, and the error when the host cannot apply a field.
@Suite struct ResourcesV1Tests {
    let fs: FakeCgroupfs

    init() throws {
        fs = try FakeCgroupfs()
    }

    func manager(_ controllers: [String]) throws -> CgroupManager {
        try CgroupManager(hierarchies: try fs.v1Host(controllers), cgroupsPath: "/skiff/c1")
    }

    @Test func memoryFields() throws {
        let m = try manager(["memory"])
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20, reservation: 32 << 20, swappiness: 10,
                                                           disableOOMKiller: true)))
        }
        #expect(writes == [
            "memory/skiff/c1/memory.limit_in_bytes <- 67108864",
            "memory/skiff/c1/memory.soft_limit_in_bytes <- 33554432",
            "memory/skiff/c1/memory.oom_control <- 1",
            "memory/skiff/c1/memory.swappiness <- 10",
        ])
    }

    /// kernelTCP lands in memory.kmem.tcp.limit_in_bytes where the kernel still has it; without
    /// it, and for `kernel` (which Linux ignores), create fails naming the field.
    @Test func kernelTCPIsAppliedOrRefused() throws {
        let m = try manager(["memory"])
        #expect(errorText { try m.apply(LinuxResources(memory: LinuxMemory(kernelTCP: 1 << 20))) }?
            .hasPrefix("linux.resources.memory.kernelTCP: cannot apply: ") == true)
        try fs.write("memory/skiff/c1/memory.kmem.tcp.limit_in_bytes", "9223372036854771712")
        let writes = try recordingWrites(fs) { try m.apply(LinuxResources(memory: LinuxMemory(kernelTCP: 1 << 20))) }
        #expect(writes == ["memory/skiff/c1/memory.kmem.tcp.limit_in_bytes <- 1048576"])
        #expect(errorText { try m.apply(LinuxResources(memory: LinuxMemory(kernel: 1 << 20))) } ==
            "linux.resources.memory.kernel: kernel memory limits are not supported (Linux ignores them since 5.16)")
    }

    /// The kernel keeps memory <= memory+swap at each write: raising both writes swap first,
    /// lowering both writes memory first (runc's order).
    @Test func memoryAndSwapOrder() throws {
        let m = try manager(["memory"])
        try fs.write("memory/skiff/c1/memory.limit_in_bytes", "33554432")
        let raising = try recordingWrites(fs) {
            try m.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20, swap: 128 << 20)))
        }
        #expect(raising == ["memory/skiff/c1/memory.memsw.limit_in_bytes <- 134217728",
                            "memory/skiff/c1/memory.limit_in_bytes <- 67108864"])
        try fs.write("memory/skiff/c1/memory.limit_in_bytes", "536870912")
        let lowering = try recordingWrites(fs) {
            try m.apply(LinuxResources(memory: LinuxMemory(limit: 16 << 20, swap: 32 << 20)))
        }
        #expect(lowering == ["memory/skiff/c1/memory.limit_in_bytes <- 16777216",
                             "memory/skiff/c1/memory.memsw.limit_in_bytes <- 33554432"])
    }

    /// limit -1 without swap: memory+swap unlimited too, as on v1 runc.
    @Test func unlimitedMemoryUnlimitsSwap() throws {
        let m = try manager(["memory"])
        let writes = try recordingWrites(fs) { try m.apply(LinuxResources(memory: LinuxMemory(limit: -1))) }
        #expect(writes == ["memory/skiff/c1/memory.memsw.limit_in_bytes <- -1", "memory/skiff/c1/memory.limit_in_bytes <- -1"])
    }

    /// Without swap accounting memory.memsw.* is missing: a swap equal to the limit is what
    /// the host does anyway; any other swap is an error naming the file.
    @Test func swapWithoutSwapAccounting() throws {
        let m = try manager(["memory"])
        try FileManager.default.removeItem(atPath: fs.root + "/memory/skiff/c1/memory.memsw.limit_in_bytes")
        try m.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20, swap: 64 << 20)))
        #expect(try fs.read("memory/skiff/c1/memory.limit_in_bytes") == "67108864")
        #expect(errorText { try m.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20, swap: 128 << 20))) }
            == "linux.resources.memory.swap: cannot apply: \"\(fs.root)/memory/skiff/c1/memory.memsw.limit_in_bytes\" does not exist (swap accounting is off in this kernel (swapaccount=1))")
    }

    @Test func checkBeforeUpdateRefusesALimitBelowUsage() throws {
        let m = try manager(["memory"])
        try fs.write("memory/skiff/c1/memory.usage_in_bytes", "50000000")
        #expect(errorText { try m.apply(LinuxResources(memory: LinuxMemory(limit: 10_000_000, checkBeforeUpdate: true))) }
            == "linux.resources.memory.limit: rejecting 10000000, below the current usage 50000000 (memory.usage_in_bytes, checkBeforeUpdate)")
        #expect(try fs.read("memory/skiff/c1/memory.limit_in_bytes") == "9223372036854771712")
        try m.apply(LinuxResources(memory: LinuxMemory(limit: 60_000_000, checkBeforeUpdate: true)))
        #expect(try fs.read("memory/skiff/c1/memory.limit_in_bytes") == "60000000")
    }

    @Test func cpuFields() throws {
        let m = try manager(["cpu", "cpuset"])
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(cpu: LinuxCPU(shares: 512, quota: 50_000, burst: 10_000, period: 100_000,
                                                     realtimeRuntime: 950, realtimePeriod: 1000, cpus: "0-1", mems: "0", idle: 1)))
        }
        #expect(writes == [
            "cpuset/skiff/c1/cpuset.cpus <- 0-1",
            "cpuset/skiff/c1/cpuset.mems <- 0",
            "cpu/skiff/c1/cpu.shares <- 512",
            "cpu/skiff/c1/cpu.cfs_period_us <- 100000",
            "cpu/skiff/c1/cpu.cfs_burst_us <- 10000",
            "cpu/skiff/c1/cpu.cfs_quota_us <- 50000",
            "cpu/skiff/c1/cpu.idle <- 1",
            "cpu/skiff/c1/cpu.rt_period_us <- 1000",
            "cpu/skiff/c1/cpu.rt_runtime_us <- 950",
        ])
    }

    /// A kernel without cpu.cfs_burst_us (before 5.14) or cpu.idle (before 5.15): fine when
    /// the value is the default 0, an error naming field and file otherwise.
    @Test func missingCpuFilesAreErrorsUnlessDefault() throws {
        let m = try manager(["cpu"])
        for file in ["cpu.cfs_burst_us", "cpu.idle"] {
            try FileManager.default.removeItem(atPath: fs.root + "/cpu/skiff/c1/" + file)
        }
        try m.apply(LinuxResources(cpu: LinuxCPU(burst: 0, idle: 0)))
        #expect(errorText { try m.apply(LinuxResources(cpu: LinuxCPU(burst: 5000))) }
            == "linux.resources.cpu.burst: cannot apply: \"\(fs.root)/cpu/skiff/c1/cpu.cfs_burst_us\" does not exist (the kernel does not offer it)")
        #expect(errorText { try m.apply(LinuxResources(cpu: LinuxCPU(idle: 1))) }
            == "linux.resources.cpu.idle: cannot apply: \"\(fs.root)/cpu/skiff/c1/cpu.idle\" does not exist (the kernel does not offer it)")
    }

    @Test func pidsLimit() throws {
        let m = try manager(["pids"])
        try m.apply(LinuxResources(pids: LinuxPids(limit: 32)))
        #expect(try fs.read("pids/skiff/c1/pids.max") == "32")
        try m.apply(LinuxResources(pids: LinuxPids(limit: 0)))
        #expect(try fs.read("pids/skiff/c1/pids.max") == "max")
        try m.apply(LinuxResources(pids: LinuxPids(limit: -1)))
        #expect(try fs.read("pids/skiff/c1/pids.max") == "max")
    }

    /// Kernels without CFQ name the weights after BFQ (blkio.bfq.weight), which takes the
    /// value as is; throttles are "major:minor rate", one write per device.
    @Test func blockIOWithBFQNames() throws {
        let m = try manager(["blkio"])
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(blockIO: LinuxBlockIO(
                weight: 300, weightDevice: [LinuxWeightDevice(major: 8, minor: 0, weight: 200)],
                throttleReadBpsDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 1_048_576),
                                        LinuxThrottleDevice(major: 8, minor: 16, rate: 2_097_152)],
                throttleWriteBpsDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 4096)],
                throttleReadIOPSDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 100)],
                throttleWriteIOPSDevice: [LinuxThrottleDevice(major: 8, minor: 0, rate: 50)])))
        }
        #expect(writes == [
            "blkio/skiff/c1/blkio.bfq.weight <- 300",
            "blkio/skiff/c1/blkio.bfq.weight_device <- 8:0 200",
            "blkio/skiff/c1/blkio.throttle.read_bps_device <- 8:0 1048576",
            "blkio/skiff/c1/blkio.throttle.read_bps_device <- 8:16 2097152",
            "blkio/skiff/c1/blkio.throttle.write_bps_device <- 8:0 4096",
            "blkio/skiff/c1/blkio.throttle.read_iops_device <- 8:0 100",
            "blkio/skiff/c1/blkio.throttle.write_iops_device <- 8:0 50",
        ])
    }

    @Test func blockIOWithCFQNames() throws {
        let m = try manager(["blkio"])
        try fs.write("blkio/skiff/c1/blkio.weight", "500")
        try fs.write("blkio/skiff/c1/blkio.weight_device", "")
        try fs.write("blkio/skiff/c1/blkio.leaf_weight", "500")
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(blockIO: LinuxBlockIO(weight: 300, leafWeight: 200,
                                                             weightDevice: [LinuxWeightDevice(major: 8, minor: 0, weight: 100)])))
        }
        #expect(writes == ["blkio/skiff/c1/blkio.weight <- 300", "blkio/skiff/c1/blkio.leaf_weight <- 200",
                           "blkio/skiff/c1/blkio.weight_device <- 8:0 100"])
    }

    @Test func hugepageLimits() throws {
        let m = try manager(["hugetlb"])
        try m.apply(LinuxResources(hugepageLimits: [LinuxHugepageLimit(pageSize: "2MB", limit: 4 << 20)]))
        #expect(try fs.read("hugetlb/skiff/c1/hugetlb.2MB.limit_in_bytes") == "4194304")
        #expect(errorText { try m.apply(LinuxResources(hugepageLimits: [LinuxHugepageLimit(pageSize: "1GB", limit: 1 << 30)])) }
            == "linux.resources.hugepageLimits[0]: cannot apply: \"\(fs.root)/hugetlb/skiff/c1/hugetlb.1GB.limit_in_bytes\" does not exist (no 1GB huge pages on this host)")
        // The page size is part of a file name: nothing that could leave the directory.
        #expect(errorText { try m.apply(LinuxResources(hugepageLimits: [LinuxHugepageLimit(pageSize: "../../x", limit: 1)])) }
            == "linux.resources.hugepageLimits[0].pageSize: invalid page size \"../../x\" (expected a size like 2MB or 1GB)")
    }

    @Test func networkClassAndPriorities() throws {
        let m = try manager(["net_cls", "net_prio"])
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(network: LinuxNetwork(classID: 0x100001, priorities: [
                LinuxInterfacePriority(name: "eth0", priority: 5), LinuxInterfacePriority(name: "lo", priority: 2),
            ])))
        }
        #expect(writes == ["net_cls/skiff/c1/net_cls.classid <- 1048577", "net_prio/skiff/c1/net_prio.ifpriomap <- eth0 5",
                           "net_prio/skiff/c1/net_prio.ifpriomap <- lo 2"])
    }

    @Test func rdmaLimits() throws {
        let m = try manager(["rdma"])
        let writes = try recordingWrites(fs) {
            try m.apply(LinuxResources(rdma: ["mlx5_1": LinuxRdma(hcaHandles: 3), "mlx4_0": LinuxRdma(hcaHandles: 2, hcaObjects: 100)]))
        }
        #expect(writes == ["rdma/skiff/c1/rdma.max <- mlx4_0 hca_handle=2 hca_object=100", "rdma/skiff/c1/rdma.max <- mlx5_1 hca_handle=3"])
    }

    /// A controller the host lacks: an error naming the field and the file, unless the value
    /// is the default (then nothing is written and nothing fails).
    @Test func missingControllers() throws {
        let m = try manager(["cpu"])
        #expect(errorText { try m.apply(LinuxResources(network: LinuxNetwork(classID: 7))) }
            == "linux.resources.network.classID: cannot apply: \"net_cls.classid\" does not exist (no net_cls controller on this host)")
        #expect(errorText { try m.apply(LinuxResources(memory: LinuxMemory(reservation: 1 << 20))) }
            == "linux.resources.memory.reservation: cannot apply: \"memory.soft_limit_in_bytes\" does not exist (no memory controller on this host)")
        #expect(errorText { try m.apply(LinuxResources(pids: LinuxPids(limit: 10))) }
            == "linux.resources.pids.limit: cannot apply: \"pids.max\" does not exist (no pids controller on this host)")
        #expect(errorText { try m.apply(LinuxResources(rdma: ["mlx4_0": LinuxRdma(hcaHandles: 1)])) }
            == "linux.resources.rdma[\"mlx4_0\"]: cannot apply: \"rdma.max\" does not exist (no rdma controller on this host)")
        // Defaults need no controller.
        try m.apply(LinuxResources(memory: LinuxMemory(), pids: LinuxPids(limit: -1), hugepageLimits: [],
                                   network: LinuxNetwork(classID: 0, priorities: []), rdma: [:]))
    }

    /// `unified` holds cgroup v2 files: without cgroup2 there is nowhere to write them.
    @Test func unifiedWithoutCgroup2() throws {
        let m = try manager(["memory"])
        #expect(errorText { try m.apply(LinuxResources(unified: ["memory.high": "1G"])) }
            == "linux.resources.unified[\"memory.high\"]: cannot apply: this host has no cgroup v2 hierarchy")
    }

    /// The kernel's refusal names the field, the value and the file.
    @Test func kernelRefusalNamesFieldValueAndFile() throws {
        let m = try manager(["cpuset"])
        try FileManager.default.removeItem(atPath: fs.root + "/cpuset/skiff/c1/cpuset.cpus")
        try FileManager.default.createDirectory(atPath: fs.root + "/cpuset/skiff/c1/cpuset.cpus", withIntermediateDirectories: false)
        #expect(errorText { try m.apply(LinuxResources(cpu: LinuxCPU(cpus: "0-1000"))) }
            == "linux.resources.cpu.cpus = \"0-1000\": write \"\(fs.root)/cpuset/skiff/c1/cpuset.cpus\": is a directory")
    }
}
