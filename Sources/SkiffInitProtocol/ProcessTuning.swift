import SkiffLinux
import SkiffOCI

/// process.scheduler, process.ioPriority, linux.personality, process.execCPUAffinity.final and
/// linux.memoryPolicy, turned into the kernel's numbers when init starts (so a bad value fails
/// before anything is changed) and applied by init to itself: each survives execve, so the
/// process starts with them. An error names the field.
package struct ProcessTuning: Equatable {
    package struct Scheduler: Equatable {
        package var policy: UInt32
        package var flags: UInt64
        package var nice: Int32
        package var priority: UInt32
        package var runtime: UInt64
        package var deadline: UInt64
        package var period: UInt64
    }

    package var scheduler: Scheduler?
    package var ioPriority: (ioClass: Int32, level: Int32)?
    package var personality: UInt?
    package var finalCPUs: [Int]?
    package var memoryPolicy: (mode: Int32, nodes: [Int])?

    package static let schedulerPolicies: [String: UInt32] = [
        "SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_ISO": 4, "SCHED_IDLE": 5,
        "SCHED_DEADLINE": 6,
    ]
    package static let schedulerFlags: [String: UInt64] = [
        "SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02, "SCHED_FLAG_DL_OVERRUN": 0x04,
        "SCHED_FLAG_KEEP_POLICY": 0x08, "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
        "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40,
    ]
    package static let ioPriorityClasses: [String: Int32] = ["IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3]
    /// PER_LINUX and PER_LINUX32 (uname -m then reads i686 on x86_64).
    package static let personalityDomains: [String: UInt] = ["LINUX": 0x0000, "LINUX32": 0x0008]
    package static let memoryPolicyModes: [String: Int32] = [
        "MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3, "MPOL_LOCAL": 4,
        "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6,
    ]
    package static let memoryPolicyFlags: [String: Int32] = [
        "MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14, "MPOL_F_STATIC_NODES": 1 << 15,
    ]

    package static func == (a: ProcessTuning, b: ProcessTuning) -> Bool {
        a.scheduler == b.scheduler && a.ioPriority?.ioClass == b.ioPriority?.ioClass
            && a.ioPriority?.level == b.ioPriority?.level && a.personality == b.personality
            && a.finalCPUs == b.finalCPUs && a.memoryPolicy?.mode == b.memoryPolicy?.mode
            && a.memoryPolicy?.nodes == b.memoryPolicy?.nodes
    }

    /// `linux` is nil for exec: personality and the memory policy belong to the container
    /// (runc applies them in the container's init only).
    package init(process: Process, linux: Linux?, base: String = "process") throws {
        if let s = process.scheduler {
            let field = base + ".scheduler"
            guard let policy = Self.schedulerPolicies[s.policy] else {
                throw SkiffError(.invalidArgument, "\(field).policy: unknown scheduler policy \"\(s.policy)\"")
            }
            var flags: UInt64 = 0
            for flag in s.flags ?? [] {
                guard let bit = Self.schedulerFlags[flag] else {
                    throw SkiffError(.invalidArgument, "\(field).flags: unknown scheduler flag \"\(flag)\"")
                }
                flags |= bit
            }
            let priority = s.priority ?? 0
            guard priority >= 0 else { throw SkiffError(.invalidArgument, "\(field).priority: must not be negative") }
            scheduler = Scheduler(policy: policy, flags: flags, nice: s.nice ?? 0, priority: UInt32(priority),
                                  runtime: s.runtime ?? 0, deadline: s.deadline ?? 0, period: s.period ?? 0)
        }
        if let io = process.ioPriority {
            guard let ioClass = Self.ioPriorityClasses[io.class] else {
                throw SkiffError(.invalidArgument, "\(base).ioPriority.class: unknown I/O priority class \"\(io.class)\"")
            }
            guard (0...7).contains(io.priority) else {
                throw SkiffError(.invalidArgument, "\(base).ioPriority.priority: must be between 0 and 7")
            }
            ioPriority = (ioClass, Int32(io.priority))
        }
        if let text = process.execCPUAffinity?.final, !text.isEmpty {
            guard let cpus = ProcessAttributes.parseList(text) else {
                throw SkiffError(.invalidArgument, "\(base).execCPUAffinity.final: invalid CPU list \"\(text)\"")
            }
            finalCPUs = cpus
        }
        if let p = linux?.personality {
            guard let domain = Self.personalityDomains[p.domain] else {
                throw SkiffError(.invalidArgument, "linux.personality.domain: unknown personality domain \"\(p.domain)\"")
            }
            if let flag = p.flags?.first {
                // The spec defines no flag yet; one we do not know cannot be applied.
                throw SkiffError(.invalidArgument, "linux.personality.flags: unknown personality flag \"\(flag)\"")
            }
            personality = domain
        }
        if let m = linux?.memoryPolicy {
            memoryPolicy = try Self.memoryPolicy(m)
        }
    }

    /// process.execCPUAffinity.initial as CPU numbers, for the runtime's spawn of init.
    package static func initialCPUs(_ process: Process?, base: String = "process") throws -> [Int]? {
        guard let text = process?.execCPUAffinity?.initial, !text.isEmpty else { return nil }
        guard let cpus = ProcessAttributes.parseList(text) else {
            throw SkiffError(.invalidArgument, "\(base).execCPUAffinity.initial: invalid CPU list \"\(text)\"")
        }
        return cpus
    }

    package static func memoryPolicy(_ m: LinuxMemoryPolicy) throws -> (mode: Int32, nodes: [Int]) {
        let field = "linux.memoryPolicy"
        guard var mode = memoryPolicyModes[m.mode] else {
            throw SkiffError(.invalidArgument, "\(field).mode: unknown memory policy mode \"\(m.mode)\"")
        }
        for flag in m.flags ?? [] {
            guard let bit = memoryPolicyFlags[flag] else {
                throw SkiffError(.invalidArgument, "\(field).flags: unknown memory policy flag \"\(flag)\"")
            }
            mode |= bit
        }
        let text = m.nodes ?? ""
        var nodes: [Int] = []
        if !text.isEmpty {
            guard let parsed = ProcessAttributes.parseList(text) else {
                throw SkiffError(.invalidArgument, "\(field).nodes: invalid node list \"\(text)\"")
            }
            nodes = parsed
        }
        return (mode, nodes)
    }
}
