#if canImport(Glibc)
import Glibc
#endif
import CShims

/// The calling process's (or thread's) scheduling, I/O priority, execution domain, CPU
/// affinity and NUMA memory policy: what sched_setattr(2), ioprio_set(2), personality(2),
/// sched_setaffinity(2) and set_mempolicy(2) set. All of them survive execve, which is why a
/// container's init sets them on itself just before it execs the process.
public enum ProcessAttributes {
    /// sched_setattr(2) on the calling thread. The corresponding C function is `sched_setattr`.
    public static func setScheduler(policy: UInt32, flags: UInt64, nice: Int32, priority: UInt32,
                                    runtime: UInt64, deadline: UInt64, period: UInt64) throws(LinuxError) {
        _ = try sysCall("sched_setattr") {
            skiff_sched_setattr(policy, flags, nice, priority, runtime, deadline, period)
        }
    }

    /// ioprio_set(IOPRIO_WHO_PROCESS, 0, …): `ioClass` 1 (RT), 2 (BE) or 3 (IDLE), `level` 0-7.
    public static func setIOPriority(ioClass: Int32, level: Int32) throws(LinuxError) {
        _ = try sysCall("ioprio_set") { skiff_ioprio_set_self(ioClass, level) }
    }

    /// The calling process's I/O priority as (class, level).
    public static func ioPriority() throws(LinuxError) -> (ioClass: Int32, level: Int32) {
        let value = try sysCall("ioprio_get") { skiff_ioprio_get_self() }
        return (value >> 13, value & 0x1fff)
    }

    /// personality(2): the execution domain the process and its children run in.
    public static func setPersonality(_ persona: UInt) throws(LinuxError) {
        _ = try sysCall("personality") { skiff_personality(persona) }
    }

    /// The current personality (personality(0xffffffff) only reads it).
    public static func personality() throws(LinuxError) -> UInt {
        UInt(try sysCall("personality") { skiff_personality(0xffff_ffff) })
    }

    /// sched_setaffinity(2): `thread` (0: the calling thread) may run on `cpus` only.
    public static func setAffinity(_ cpus: [Int], thread: pid_t = 0) throws(LinuxError) {
        let mask = Self.mask(cpus)
        _ = try sysCall("sched_setaffinity") { skiff_sched_setaffinity(thread, mask, mask.count) }
    }

    /// The CPUs `thread` (0: the calling thread) may run on.
    public static func affinity(thread: pid_t = 0) throws(LinuxError) -> [Int] {
        // 8192 CPUs: the kernel wants at least nr_cpu_ids bits, in whole longs.
        var mask = [UInt8](repeating: 0, count: 1024)
        let size = mask.count
        let written = try sysCall("sched_getaffinity") { skiff_sched_getaffinity(thread, &mask, size) }
        return Self.bits(mask.prefix(Int(written)))
    }

    /// set_mempolicy(2) for the calling thread: `mode` is MPOL_*, optionally ORed with
    /// MPOL_F_* flags; `nodes` the NUMA node numbers (empty for MPOL_DEFAULT and MPOL_LOCAL).
    public static func setMemoryPolicy(mode: Int32, nodes: [Int]) throws(LinuxError) {
        if nodes.isEmpty {
            _ = try sysCall("set_mempolicy") { skiff_set_mempolicy(mode, nil, 0) }
            return
        }
        let words = Self.words(nodes)
        // The kernel counts one bit fewer than maxnode (mm/mempolicy.c get_nodes).
        let maxnode = UInt(words.count * UInt.bitWidth + 1)
        _ = try sysCall("set_mempolicy") { words.withUnsafeBufferPointer { skiff_set_mempolicy(mode, $0.baseAddress, maxnode) } }
    }

    /// The calling thread's memory policy mode (with its MPOL_F_* flags) and node numbers.
    public static func memoryPolicy() throws(LinuxError) -> (mode: Int32, nodes: [Int]) {
        var mode: Int32 = 0
        var words = [UInt](repeating: 0, count: 16)
        let maxnode = UInt(words.count * UInt.bitWidth)
        _ = try sysCall("get_mempolicy") { skiff_get_mempolicy(&mode, &words, maxnode) }
        let bytes = words.flatMap { word in (0..<UInt.bitWidth / 8).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
        return (mode, Self.bits(bytes[...]))
    }

    /// Parses the kernel's list format (`0-3,7`, cpuset(7) "List format"): nil when malformed.
    public static func parseList(_ text: String) -> [Int]? {
        var result: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = part.trimmingCharacters(in: " \n\t")
            let bounds = trimmed.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let low = Int(bounds[0]), low >= 0,
                  let high = bounds.count == 2 ? Int(bounds[1]) : low, high >= low, high < 65536 else { return nil }
            result += Array(low...high)
        }
        return result.isEmpty ? nil : Array(Set(result)).sorted()
    }

    static func mask(_ bits: [Int]) -> [UInt8] {
        let size = max(8, ((bits.max() ?? 0) / 64 + 1) * 8)
        var mask = [UInt8](repeating: 0, count: size)
        for bit in bits { mask[bit / 8] |= UInt8(1) << (bit % 8) }
        return mask
    }

    static func words(_ bits: [Int]) -> [UInt] {
        var words = [UInt](repeating: 0, count: (bits.max() ?? 0) / UInt.bitWidth + 1)
        for bit in bits { words[bit / UInt.bitWidth] |= UInt(1) << (bit % UInt.bitWidth) }
        return words
    }

    static func bits(_ mask: ArraySlice<UInt8>) -> [Int] {
        var result: [Int] = []
        for (index, byte) in mask.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (1 << bit) != 0 { result.append(index * 8 + bit) }
        }
        return result
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let first = s.first, set.contains(first) { s = s.dropFirst() }
        while let last = s.last, set.contains(last) { s = s.dropLast() }
        return s
    }
}
