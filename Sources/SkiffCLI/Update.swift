#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Skiff
import SkiffLinux
import SkiffOCI

struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", _superCommandName: "skiff", abstract: "update container resource constraints",
        discussion: """
            The resources file (or standard input with "-") is a linux.resources object of the runtime spec:
            {"memory": {"limit": 0, "reservation": 0, "swap": 0, "checkBeforeUpdate": false},
             "cpu": {"shares": 0, "quota": 0, "burst": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0,
                     "cpus": "", "mems": "", "idle": 0},
             "blockIO": {"weight": 0}, "pids": {"limit": 0}, "unified": {}}
            Fields left out or 0 are not changed. Without --resources, the flags below set single values.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "path to the file containing the resources to update or '-' to read from the standard input")
    var resources: String?
    @Option(name: .customLong("blkio-weight"), help: "Specifies per cgroup weight, range is from 10 to 1000") var blkioWeight: UInt16?
    @Option(name: .customLong("cpu-period"), help: "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default") var cpuPeriod: UInt64?
    // -1 means unlimited: `.unconditional` takes "-1" as the value of the option before it,
    // not as a flag of its own (runc: `update --memory-swap -1 ID`).
    @Option(name: .customLong("cpu-quota"), parsing: .unconditional, help: "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period") var cpuQuota: Int64?
    @Option(name: .customLong("cpu-burst"), help: "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period") var cpuBurst: UInt64?
    @Option(name: [.customLong("cpu-share"), .customLong("cpu-shares")], help: "CPU shares (relative weight vs. other containers)") var cpuShares: UInt64?
    @Option(name: .customLong("cpu-rt-period"), help: "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default") var cpuRtPeriod: UInt64?
    @Option(name: .customLong("cpu-rt-runtime"), parsing: .unconditional, help: "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period") var cpuRtRuntime: Int64?
    @Option(name: .customLong("cpuset-cpus"), help: "CPU(s) to use") var cpusetCpus: String?
    @Option(name: .customLong("cpuset-mems"), help: "Memory node(s) to use") var cpusetMems: String?
    @Option(name: .customLong("cpu-idle"), parsing: .unconditional, help: "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE") var cpuIdle: Int64?
    @Option(name: .customLong("kernel-memory"), parsing: .unconditional, help: "(obsoleted; do not use)") var kernelMemory: String?
    @Option(name: .customLong("kernel-memory-tcp"), parsing: .unconditional, help: "(obsoleted; do not use)") var kernelMemoryTCP: String?
    @Option(parsing: .unconditional, help: "Memory limit (in bytes, or with a unit: 512m, 1g)") var memory: String?
    @Option(name: .customLong("memory-reservation"), parsing: .unconditional, help: "Memory reservation or soft_limit (in bytes)") var memoryReservation: String?
    @Option(name: .customLong("memory-swap"), parsing: .unconditional, help: "Total memory usage (memory + swap); set '-1' to enable unlimited swap") var memorySwap: String?
    @Option(name: .customLong("pids-limit"), parsing: .unconditional, help: "Maximum number of pids allowed in the container") var pidsLimit: Int64?
    @Option(name: .customLong("l3-cache-schema"), help: "The string of Intel RDT/CAT L3 cache schema (not supported)") var l3CacheSchema: String?
    @Option(name: .customLong("mem-bw-schema"), help: "The string of Intel RDT/MBA memory bandwidth schema (not supported)") var memBwSchema: String?
    @Argument(help: "container id") var id: String

    func run() throws {
        do {
            let runtime = try global.runtime()
            try runtime.update(id: id, resources: try requested())
        } catch {
            throw fail(error, global: global)
        }
    }

    /// What to change: the --resources document, or the flags.
    func requested() throws -> LinuxResources {
        if l3CacheSchema != nil || memBwSchema != nil {
            throw SkiffError(.invalidArgument, "Intel RDT is not supported by skiff")
        }
        if let resources {
            let bytes: [UInt8]
            do {
                bytes = resources == "-" ? try OwnedFD(0).readAllKeepingOpen() : try Files.read(resources)
            } catch {
                throw SkiffError(.invalidArgument, "--resources: \(error)")
            }
            do {
                return try SkiffJSON.decode(LinuxResources.self, from: bytes, document: "linux.resources")
            } catch {
                throw SkiffError(.invalidArgument, "--resources: invalid \(error)")
            }
        }
        var r = LinuxResources()
        var cpu = LinuxCPU(shares: cpuShares, quota: cpuQuota, burst: cpuBurst, period: cpuPeriod,
                           realtimeRuntime: cpuRtRuntime, realtimePeriod: cpuRtPeriod, idle: cpuIdle)
        cpu.cpus = cpusetCpus
        cpu.mems = cpusetMems
        if cpu != LinuxCPU() { r.cpu = cpu }
        let mem = LinuxMemory(limit: try bytes(memory, "--memory"), reservation: try bytes(memoryReservation, "--memory-reservation"),
                              swap: try bytes(memorySwap, "--memory-swap"), kernel: try bytes(kernelMemory, "--kernel-memory"),
                              kernelTCP: try bytes(kernelMemoryTCP, "--kernel-memory-tcp"))
        if mem != LinuxMemory() { r.memory = mem }
        if let blkioWeight { r.blockIO = LinuxBlockIO(weight: blkioWeight) }
        if let pidsLimit, pidsLimit != 0 { r.pids = LinuxPids(limit: pidsLimit) }
        return r
    }

    /// A size as docker's units.RAMInBytes reads it ("512m", "1.5g", "1048576"; binary
    /// multiples), or -1.
    func bytes(_ text: String?, _ flag: String) throws -> Int64? {
        guard let text else { return nil }
        if text == "-1" { return -1 }
        let lower = text.lowercased()
        var digits = Substring(lower)
        var unit: Int64 = 1
        for suffix in ["ib", "b", "i"] where digits.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            break
        }
        if let last = digits.last, let power = "kmgtp".firstIndex(of: last) {
            unit = Int64(1) << (10 * ("kmgtp".distance(from: "kmgtp".startIndex, to: power) + 1))
            digits = digits.dropLast()
        }
        guard let value = Double(digits.filter { $0 != " " }), value >= 0,
              value * Double(unit) < 9.2e18 else {
            throw SkiffError(.invalidArgument, "invalid value \"\(text)\" for flag \(flag): expected bytes, optionally with a unit (512m, 1g)")
        }
        return Int64(value * Double(unit))
    }
}

extension OwnedFD {
    /// Reads to end of file without taking ownership (the fd stays open).
    func readAllKeepingOpen() throws -> [UInt8] {
        defer { _ = release() }
        return try readAll(limit: 1 << 20)
    }
}
