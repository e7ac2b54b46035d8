#if canImport(Glibc)
import Glibc
#endif

/// The conversions runc applies when the config speaks cgroup v1 and the host is cgroup v2,
/// so that one config.json means the same on both.
public enum CgroupConversions {
    /// cpu.shares (v1, 2…262144, default 1024) → cpu.weight (v2, 1…10000, default 100): runc's
    /// quadratic fit in log2(shares) through the minimum, the default and the maximum, so the
    /// default maps to the default (the older linear formula gave 39). 0 means unset.
    public static func cpuWeight(shares: UInt64) -> UInt64 {
        if shares == 0 { return 0 }
        if shares <= 2 { return 1 }
        if shares >= 262_144 { return 10_000 }
        let l = log2(Double(shares))
        let exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0
        return UInt64(ceil(pow(10, exponent)))
    }

    /// blkio.weight (v1, 10…1000) → io.weight (v2, 1…10000), linearly, as runc does when
    /// cgroup2 has no io.bfq.weight (which takes the v1 value as is). 0 means unset.
    public static func ioWeight(blkioWeight: UInt64) -> UInt64 {
        if blkioWeight == 0 { return 0 }
        return 1 + (blkioWeight - 10) * 9999 / 990
    }

    /// linux.resources.memory.swap is memory+swap (v1's memsw); memory.swap.max (v2) is the
    /// swap alone. Returns the v2 value: -1 for "max", 0 for unset.
    public static func swapMax(swap: Int64, memory: Int64) throws(CgroupError) -> Int64 {
        // Memory unlimited and swap not given: both unlimited, as on v1.
        if memory == -1 && swap == 0 { return -1 }
        if swap == -1 || swap == 0 { return swap }
        if memory == 0 || memory == -1 {
            throw CgroupError("linux.resources.memory.swap: cannot limit swap without a memory limit")
        }
        if memory < 0 { throw CgroupError("linux.resources.memory.limit: invalid value \(memory)") }
        if swap < memory {
            throw CgroupError("linux.resources.memory.swap: \(swap) is below linux.resources.memory.limit \(memory) (swap counts memory+swap)")
        }
        return swap - memory
    }

    /// How v2 writes a limit: -1 (or any negative) is "max".
    static func v2Limit(_ value: Int64) -> String {
        value < 0 ? "max" : String(value)
    }
}
