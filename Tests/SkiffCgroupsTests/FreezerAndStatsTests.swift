import Foundation
import Glibc
import Testing

import SkiffOCI
@testable import SkiffCgroups

@Suite struct ConversionTests {
    /// runc's quadratic fit: the ends and the default map onto each other.
    @Test(arguments: [(UInt64(0), UInt64(0)), (2, 1), (3, 2), (512, 59), (1024, 100), (2048, 174), (100_000, 4340),
                      (262_144, 10_000), (1 << 20, 10_000)])
    func cpuSharesToWeight(shares: UInt64, weight: UInt64) {
        #expect(CgroupConversions.cpuWeight(shares: shares) == weight)
    }

    @Test(arguments: [(UInt64(0), UInt64(0)), (10, 1), (100, 910), (500, 4950), (1000, 10_000)])
    func blkioWeightToIOWeight(blkio: UInt64, io: UInt64) {
        #expect(CgroupConversions.ioWeight(blkioWeight: blkio) == io)
    }

    @Test(arguments: [(Int64(0), Int64(100), Int64(0)), (-1, 100, -1), (0, -1, -1), (300, 100, 200), (100, 100, 0)])
    func swapToSwapMax(swap: Int64, memory: Int64, expected: Int64) throws {
        #expect(try CgroupConversions.swapMax(swap: swap, memory: memory) == expected)
    }
}

@Suite struct FreezerTests {
    let fs: FakeCgroupfs

    init() throws {
        fs = try FakeCgroupfs()
    }

    @Test func v1FreezerState() throws {
        let m = try CgroupManager(hierarchies: try fs.v1Host(["freezer"]), cgroupsPath: "/skiff/c1")
        #expect(!m.isFrozen)
        try m.freeze()
        #expect(try fs.read("freezer/skiff/c1/freezer.state") == "FROZEN")
        #expect(m.isFrozen)
        try m.thaw()
        #expect(try fs.read("freezer/skiff/c1/freezer.state") == "THAWED")
        #expect(!m.isFrozen)
    }

    /// cgroup.freeze asks; the manager waits for cgroup.events to say "frozen 1".
    @Test func v2FreezeWaitsForTheEvent() throws {
        let m = try CgroupManager(hierarchies: [try fs.v2Host(["memory"])], cgroupsPath: "/skiff/c1")
        try fs.write("unified/skiff/c1/cgroup.events", "populated 1\nfrozen 1\n")  // the kernel, once all stopped
        try m.freeze()
        #expect(try fs.read("unified/skiff/c1/cgroup.freeze") == "1")
        #expect(m.isFrozen)
        try fs.write("unified/skiff/c1/cgroup.events", "populated 1\nfrozen 0\n")
        try m.thaw()
        #expect(try fs.read("unified/skiff/c1/cgroup.freeze") == "0")
        #expect(!m.isFrozen)
    }

    @Test func noFreezer() throws {
        let m = try CgroupManager(hierarchies: try fs.v1Host(["memory"]), cgroupsPath: "/skiff/c1")
        #expect(!m.isFrozen)
        #expect(errorText { try m.freeze() } == "cgroups: no freezer on this host (neither a v1 freezer hierarchy nor cgroup2)")
    }
}

@Suite struct StatsTests {
    let fs: FakeCgroupfs

    init() throws {
        fs = try FakeCgroupfs()
    }

    @Test func v1Stats() throws {
        let m = try CgroupManager(hierarchies: try fs.v1Host(["cpu", "cpuacct", "memory", "pids", "blkio"]), cgroupsPath: "/skiff/c1")
        try fs.write("cpuacct/skiff/c1/cpuacct.usage", "123456789\n")
        try fs.write("cpuacct/skiff/c1/cpuacct.usage_percpu", "100000000 23456789 \n")
        try fs.write("cpuacct/skiff/c1/cpuacct.usage_all", "cpu user system\n0 60000000 40000000\n1 20000000 3456789\n")
        try fs.write("cpuacct/skiff/c1/cpuacct.stat", "user 7\nsystem 3\n")
        try fs.write("cpu/skiff/c1/cpu.stat", "nr_periods 10\nnr_throttled 4\nthrottled_time 5000\n")
        try fs.write("memory/skiff/c1/memory.usage_in_bytes", "4096000\n")
        try fs.write("memory/skiff/c1/memory.limit_in_bytes", "8388608\n")
        try fs.write("memory/skiff/c1/memory.max_usage_in_bytes", "5000000\n")
        try fs.write("memory/skiff/c1/memory.failcnt", "3\n")
        try fs.write("memory/skiff/c1/memory.stat", "cache 8192\nrss 4000000\n")
        try fs.write("memory/skiff/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
        try fs.write("pids/skiff/c1/pids.current", "3\n")
        try fs.write("pids/skiff/c1/pids.max", "64\n")
        try fs.write("blkio/skiff/c1/blkio.throttle.io_service_bytes_recursive", "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n")
        try fs.write("blkio/skiff/c1/blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 0\nTotal 1\n")
        let stats = m.stats()
        #expect(stats.cpuUsage.total == 123_456_789)
        #expect(stats.cpuUsage.perCPU == [100_000_000, 23_456_789])
        #expect(stats.cpuUsage.perCPUUser == [60_000_000, 20_000_000])
        #expect(stats.cpuUsage.user == 70_000_000)  // 7 ticks at 100 Hz
        #expect(stats.throttling == .init(periods: 10, throttledPeriods: 4, throttledTime: 5000))
        #expect(stats.memory.usage == .init(limit: 8_388_608, usage: 4_096_000, max: 5_000_000, failcnt: 3))
        #expect(stats.memory.cache == 8192)
        #expect(stats.pids == .init(current: 3, limit: 64))
        #expect(stats.blkio.ioServiceBytesRecursive == [.init(major: 8, minor: 0, op: "Read", value: 4096),
                                                        .init(major: 8, minor: 0, op: "Write", value: 0)])
        #expect(m.oomKillCount == 2)
    }

    @Test func v2StatsInV1Units() throws {
        let m = try CgroupManager(hierarchies: [try fs.v2Host(ResourcesV2Tests.all)], cgroupsPath: "/skiff/c1")
        try fs.write("unified/skiff/c1/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 2\nnr_throttled 1\nthrottled_usec 7\n")
        try fs.write("unified/skiff/c1/memory.current", "1048576\n")
        try fs.write("unified/skiff/c1/memory.max", "2097152\n")
        try fs.write("unified/skiff/c1/memory.swap.max", "1048576\n")
        try fs.write("unified/skiff/c1/memory.swap.current", "4096\n")
        try fs.write("unified/skiff/c1/memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n")
        try fs.write("unified/skiff/c1/memory.stat", "anon 1000\nfile 2000\n")
        try fs.write("unified/skiff/c1/pids.max", "max\n")
        try fs.write("unified/skiff/c1/io.stat", "8:0 rbytes=4096 wbytes=512 rios=1 wios=2 dbytes=0 dios=0\n")
        let stats = m.stats()
        #expect(stats.cpuUsage.total == 1_500_000)
        #expect(stats.cpuUsage.user == 1_000_000 && stats.cpuUsage.kernel == 500_000)
        #expect(stats.throttling == .init(periods: 2, throttledPeriods: 1, throttledTime: 7000))
        #expect(stats.memory.usage == .init(limit: 2_097_152, usage: 1_048_576, max: 0, failcnt: 5))
        // v1's meaning: memory+swap.
        #expect(stats.memory.swap == .init(limit: 3_145_728, usage: 1_052_672, max: 0, failcnt: 0))
        #expect(stats.memory.cache == 2000)
        #expect(stats.pids.limit == 0)
        #expect(stats.blkio.ioServicedRecursive == [.init(major: 8, minor: 0, op: "Read", value: 1),
                                                    .init(major: 8, minor: 0, op: "Write", value: 2)])
        #expect(m.oomKillCount == 1)
    }

    /// runc's event JSON: Go field order, omitempty where runc's types have it.
    @Test func eventJSON() {
        var stats = CgroupStats()
        stats.cpuUsage.total = 5
        stats.cpuUsage.perCPU = [2, 3]
        stats.memory.usage = .init(limit: 100, usage: 50, max: 0, failcnt: 0)
        stats.memory.raw = ["rss": 1, "cache": 2]
        stats.pids = .init(current: 1, limit: 0)
        stats.hugetlb = ["2MB": .init(usage: 0, max: 0, failcnt: 0)]
        #expect(runcEvent(type: "oom", id: "web") == #"{"type":"oom","id":"web"}"#)
        #expect(runcEvent(type: "stats", id: "a<b", data: stats.runcJSON) == #"""
            {"type":"stats","id":"a\u003cb","data":{"cpu":{"usage":{"total":5,"percpu":[2,3],"kernel":0,"user":0},"throttling":{}},"cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"memory_pressure_enabled":0,"sched_load_balance":0,"sched_relax_domain_level":0},"memory":{"usage":{"limit":100,"usage":50,"failcnt":0},"swap":{"limit":0,"failcnt":0},"kernel":{"limit":0,"failcnt":0},"kernelTCP":{"limit":0,"failcnt":0},"raw":{"cache":2,"rss":1}},"pids":{"current":1},"blkio":{},"hugetlb":{"2MB":{"failcnt":0}},"intel_rdt":{},"network_interfaces":null}}
            """#)
    }

    @Test func helpers() {
        #expect(CgroupManager.cpuList("0-3,8,10-11") == [0, 1, 2, 3, 8, 10, 11])
        #expect(CgroupManager.cpuList("") == [])
        #expect(CgroupManager.pageSizeName(kilobytes: 2048) == "2MB")
        #expect(CgroupManager.pageSizeName(kilobytes: 1_048_576) == "1GB")
        #expect(CgroupManager.pageSizeName(kilobytes: 64) == "64KB")
    }
}
