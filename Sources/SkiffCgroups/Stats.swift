#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux

/// What `events` reports: runc's stats (types/events.go), read from whichever version drives
/// each controller, with v2 values given v1's meaning where runc does so (usage in
/// nanoseconds, swap as memory+swap).
public struct CgroupStats: Sendable, Equatable {
    public struct CPUUsage: Sendable, Equatable {
        /// Nanoseconds.
        public var total: UInt64 = 0
        public var perCPU: [UInt64] = []
        public var perCPUKernel: [UInt64] = []
        public var perCPUUser: [UInt64] = []
        public var kernel: UInt64 = 0
        public var user: UInt64 = 0
    }

    public struct Throttling: Sendable, Equatable {
        public var periods: UInt64 = 0
        public var throttledPeriods: UInt64 = 0
        /// Nanoseconds.
        public var throttledTime: UInt64 = 0
    }

    public struct CPUSet: Sendable, Equatable {
        public var cpus: [UInt16] = []
        public var mems: [UInt16] = []
        /// The v1 flag files (cpuset.cpu_exclusive…), by runc's JSON names.
        public var flags: [String: Int64] = [:]
    }

    public struct MemoryEntry: Sendable, Equatable {
        public var limit: UInt64 = 0
        public var usage: UInt64 = 0
        public var max: UInt64 = 0
        public var failcnt: UInt64 = 0
    }

    public struct Memory: Sendable, Equatable {
        public var cache: UInt64 = 0
        public var usage = MemoryEntry()
        public var swap = MemoryEntry()
        public var kernel = MemoryEntry()
        public var kernelTCP = MemoryEntry()
        public var raw: [String: UInt64] = [:]
    }

    public struct Pids: Sendable, Equatable {
        public var current: UInt64 = 0
        /// 0: no limit.
        public var limit: UInt64 = 0
    }

    public struct BlkioEntry: Sendable, Equatable {
        public var major: UInt64
        public var minor: UInt64
        public var op: String
        public var value: UInt64
    }

    public struct Blkio: Sendable, Equatable {
        public var ioServiceBytesRecursive: [BlkioEntry] = []
        public var ioServicedRecursive: [BlkioEntry] = []
    }

    public struct Hugetlb: Sendable, Equatable {
        public var usage: UInt64 = 0
        public var max: UInt64 = 0
        public var failcnt: UInt64 = 0
    }

    public var cpuUsage = CPUUsage()
    public var throttling = Throttling()
    public var cpuset = CPUSet()
    public var memory = Memory()
    public var pids = Pids()
    public var blkio = Blkio()
    /// By page size ("2MB").
    public var hugetlb: [String: Hugetlb] = [:]

    public init() {}
}

extension CgroupManager {
    /// The container's resource usage now. Controllers the host lacks read as zero.
    public func stats() -> CgroupStats {
        var stats = CgroupStats()
        readCPU(into: &stats)
        readCPUSet(into: &stats)
        readMemory(into: &stats)
        readPids(into: &stats)
        readBlkio(into: &stats)
        readHugetlb(into: &stats)
        return stats
    }

    /// How many processes of the cgroup the OOM killer has killed (v1 memory.oom_control, v2
    /// memory.events); nil without a memory controller.
    public var oomKillCount: UInt64? {
        guard let dir = controlDirectory(for: "memory") else { return nil }
        return dir.readKeyValues(dir.version == .v1 ? "memory.oom_control" : "memory.events")["oom_kill"]
    }

    private func readCPU(into stats: inout CgroupStats) {
        if let acct = controlDirectory(for: "cpuacct"), acct.version == .v1 {
            stats.cpuUsage.total = acct.readUInt("cpuacct.usage") ?? 0
            stats.cpuUsage.perCPU = Self.numbers(acct.readTrimmed("cpuacct.usage_percpu"))
            // usage_all: "cpu user system" per line, nanoseconds.
            if let all = try? acct.read("cpuacct.usage_all") {
                for line in all.split(separator: "\n").dropFirst() {
                    let fields = line.split(separator: " ").compactMap { UInt64($0) }
                    guard fields.count == 3 else { continue }
                    stats.cpuUsage.perCPUUser.append(fields[1])
                    stats.cpuUsage.perCPUKernel.append(fields[2])
                }
            }
            // cpuacct.stat counts clock ticks.
            let ticks = acct.readKeyValues("cpuacct.stat")
            let nanosPerTick = 1_000_000_000 / UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
            stats.cpuUsage.user = (ticks["user"] ?? 0) * nanosPerTick
            stats.cpuUsage.kernel = (ticks["system"] ?? 0) * nanosPerTick
        }
        if let cpu = controlDirectory(for: "cpu"), cpu.version == .v1 {
            let stat = cpu.readKeyValues("cpu.stat")
            stats.throttling = .init(periods: stat["nr_periods"] ?? 0, throttledPeriods: stat["nr_throttled"] ?? 0,
                                     throttledTime: stat["throttled_time"] ?? 0)
        } else if let v2 = v2Hierarchy {
            // cpu.stat's usage is always there on cgroup2; the throttling lines come with the
            // cpu controller.
            let stat = ControlDirectory(path: directory(in: v2), version: .v2).readKeyValues("cpu.stat")
            if controlDirectory(for: "cpuacct")?.version != .v1 {
                stats.cpuUsage.total = (stat["usage_usec"] ?? 0) * 1000
                stats.cpuUsage.user = (stat["user_usec"] ?? 0) * 1000
                stats.cpuUsage.kernel = (stat["system_usec"] ?? 0) * 1000
            }
            stats.throttling = .init(periods: stat["nr_periods"] ?? 0, throttledPeriods: stat["nr_throttled"] ?? 0,
                                     throttledTime: (stat["throttled_usec"] ?? 0) * 1000)
        }
    }

    private func readCPUSet(into stats: inout CgroupStats) {
        guard let dir = controlDirectory(for: "cpuset") else { return }
        let effective = dir.version == .v1 ? ("cpuset.effective_cpus", "cpuset.effective_mems")
                                           : ("cpuset.cpus.effective", "cpuset.mems.effective")
        stats.cpuset.cpus = Self.cpuList(dir.readTrimmed(effective.0) ?? dir.readTrimmed("cpuset.cpus") ?? "")
        stats.cpuset.mems = Self.cpuList(dir.readTrimmed(effective.1) ?? dir.readTrimmed("cpuset.mems") ?? "")
        guard dir.version == .v1 else { return }
        for (json, file) in [("cpu_exclusive", "cpu_exclusive"), ("mem_hardwall", "mem_hardwall"),
                             ("mem_exclusive", "mem_exclusive"), ("memory_migrate", "memory_migrate"),
                             ("memory_spread_page", "memory_spread_page"), ("memory_spread_slab", "memory_spread_slab"),
                             ("memory_pressure", "memory_pressure"), ("sched_load_balance", "sched_load_balance"),
                             ("sched_relax_domain_level", "sched_relax_domain_level")] {
            if let value = dir.readTrimmed("cpuset." + file).flatMap({ Int64($0) }) { stats.cpuset.flags[json] = value }
        }
        if let root = hierarchy(for: "cpuset"),
           let enabled = ControlDirectory(path: root.mountPoint, version: .v1).readTrimmed("cpuset.memory_pressure_enabled").flatMap({ Int64($0) }) {
            stats.cpuset.flags["memory_pressure_enabled"] = enabled
        }
    }

    private func readMemory(into stats: inout CgroupStats) {
        guard let dir = controlDirectory(for: "memory") else { return }
        stats.memory.raw = dir.readKeyValues("memory.stat")
        switch dir.version {
        case .v1:
            stats.memory.cache = stats.memory.raw["cache"] ?? 0
            func entry(_ prefix: String) -> CgroupStats.MemoryEntry {
                .init(limit: dir.readUInt(prefix + "limit_in_bytes") ?? 0, usage: dir.readUInt(prefix + "usage_in_bytes") ?? 0,
                      max: dir.readUInt(prefix + "max_usage_in_bytes") ?? 0, failcnt: dir.readUInt(prefix + "failcnt") ?? 0)
            }
            stats.memory.usage = entry("memory.")
            stats.memory.swap = entry("memory.memsw.")
            stats.memory.kernel = entry("memory.kmem.")
            stats.memory.kernelTCP = entry("memory.kmem.tcp.")
        case .v2:
            stats.memory.cache = stats.memory.raw["file"] ?? 0
            let events = dir.readKeyValues("memory.events")
            stats.memory.usage = .init(limit: dir.readUInt("memory.max") ?? UInt64.max, usage: dir.readUInt("memory.current") ?? 0,
                                       max: dir.readUInt("memory.peak") ?? 0, failcnt: events["max"] ?? 0)
            // v1 reports memory+swap: so does runc on v2.
            let swapLimit = dir.readUInt("memory.swap.max") ?? UInt64.max
            let usage = stats.memory.usage
            stats.memory.swap = .init(
                limit: swapLimit == UInt64.max || usage.limit == UInt64.max ? UInt64.max : swapLimit &+ usage.limit,
                usage: (dir.readUInt("memory.swap.current") ?? 0) + usage.usage, max: 0,
                failcnt: dir.readKeyValues("memory.swap.events")["fail"] ?? 0)
        }
    }

    private func readPids(into stats: inout CgroupStats) {
        guard let dir = controlDirectory(for: "pids") else { return }
        stats.pids.current = dir.readUInt("pids.current") ?? 0
        let limit = dir.readUInt("pids.max") ?? 0
        stats.pids.limit = limit == UInt64.max ? 0 : limit
    }

    private func readBlkio(into stats: inout CgroupStats) {
        if let dir = controlDirectory(for: "blkio"), dir.version == .v1 {
            // CFQ's files, else BFQ's, else the throttling layer's (which counts every device).
            for prefix in ["blkio.", "blkio.bfq.", "blkio.throttle."] {
                guard let bytes = try? dir.read(prefix + "io_service_bytes_recursive"),
                      let ios = try? dir.read(prefix + "io_serviced_recursive") else { continue }
                stats.blkio.ioServiceBytesRecursive = Self.blkioEntries(bytes)
                stats.blkio.ioServicedRecursive = Self.blkioEntries(ios)
                if !stats.blkio.ioServiceBytesRecursive.isEmpty || prefix == "blkio.throttle." { break }
            }
        } else if let dir = controlDirectory(for: "io") ?? v2Hierarchy.map({ ControlDirectory(path: directory(in: $0), version: .v2) }) {
            guard let text = try? dir.read("io.stat") else { return }
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                let device = fields.first?.split(separator: ":").compactMap { UInt64($0) } ?? []
                guard device.count == 2 else { continue }
                var values: [String: UInt64] = [:]
                for pair in fields.dropFirst() {
                    let kv = pair.split(separator: "=")
                    if kv.count == 2, let value = UInt64(kv[1]) { values[String(kv[0])] = value }
                }
                for (key, op) in [("rbytes", "Read"), ("wbytes", "Write")] {
                    stats.blkio.ioServiceBytesRecursive.append(.init(major: device[0], minor: device[1], op: op, value: values[key] ?? 0))
                }
                for (key, op) in [("rios", "Read"), ("wios", "Write")] {
                    stats.blkio.ioServicedRecursive.append(.init(major: device[0], minor: device[1], op: op, value: values[key] ?? 0))
                }
            }
        }
    }

    private func readHugetlb(into stats: inout CgroupStats) {
        guard let dir = controlDirectory(for: "hugetlb") else { return }
        for size in Self.hugePageSizes() {
            switch dir.version {
            case .v1:
                guard let usage = dir.readUInt("hugetlb.\(size).usage_in_bytes") else { continue }
                stats.hugetlb[size] = .init(usage: usage, max: dir.readUInt("hugetlb.\(size).max_usage_in_bytes") ?? 0,
                                            failcnt: dir.readUInt("hugetlb.\(size).failcnt") ?? 0)
            case .v2:
                guard let usage = dir.readUInt("hugetlb.\(size).current") else { continue }
                stats.hugetlb[size] = .init(usage: usage, max: 0,
                                            failcnt: dir.readKeyValues("hugetlb.\(size).events")["max"] ?? 0)
            }
        }
    }

    /// The huge page sizes of this machine, as the hugetlb files name them ("2MB", "1GB").
    static func hugePageSizes() -> [String] {
        let names = (try? Files.listDirectory("/sys/kernel/mm/hugepages")) ?? []
        return names.compactMap { name -> (UInt64, String)? in
            guard name.hasPrefix("hugepages-"), name.hasSuffix("kB"),
                  let kb = UInt64(name.dropFirst("hugepages-".count).dropLast(2)) else { return nil }
            return (kb, pageSizeName(kilobytes: kb))
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func pageSizeName(kilobytes: UInt64) -> String {
        if kilobytes >= 1 << 20, kilobytes % (1 << 20) == 0 { return "\(kilobytes >> 20)GB" }
        if kilobytes >= 1 << 10, kilobytes % (1 << 10) == 0 { return "\(kilobytes >> 10)MB" }
        return "\(kilobytes)KB"
    }

    static func numbers(_ text: String?) -> [UInt64] {
        (text ?? "").split(separator: " ").compactMap { UInt64($0) }
    }

    /// "0-3,8,10-11" → [0, 1, 2, 3, 8, 10, 11].
    static func cpuList(_ text: String) -> [UInt16] {
        var result: [UInt16] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { UInt16(String($0).trimmingKernelBlanks()) }
            if bounds.count == 1 { result.append(bounds[0]) }
            if bounds.count == 2, bounds[0] <= bounds[1], bounds[1] - bounds[0] < 4096 { result += Array(bounds[0]...bounds[1]) }
        }
        return result
    }

    /// v1 blkio lines: "8:0 Read 4096" (and a "Total N" line).
    static func blkioEntries(_ text: String) -> [CgroupStats.BlkioEntry] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 3, let value = UInt64(fields[2]) else { return nil }
            let device = fields[0].split(separator: ":").compactMap { UInt64($0) }
            guard device.count == 2 else { return nil }
            return .init(major: device[0], minor: device[1], op: String(fields[1]), value: value)
        }
    }
}
