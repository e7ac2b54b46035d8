#if canImport(Glibc)
import Glibc
#endif
import CCap
import CShims
import SkiffInitProtocol
import SkiffLinux

/// Init side: the process's capabilities changed in the two steps the uid switch imposes.
extension ProcessCapabilities {
    /// Step 1, while still privileged (CAP_SETPCAP): drop what is not in `keep` from the
    /// bounding set, and ask the kernel to keep the permitted set across the switch to a
    /// non-zero uid (otherwise setresuid clears it).
    static func dropBounding(keep: Set<Int32>) throws(SkiffError) {
        for cap in 0..<CapabilitySets.kernelCount where !keep.contains(cap) && cap_get_bound(cap) == 1 {
            if cap_drop_bound(cap) != 0 {
                throw SkiffError(.system, LinuxError("drop \(CapabilitySets.name(of: cap)) from the bounding set", errno: currentErrno()))
            }
        }
        if cap_prctlw(Int(PR_SET_KEEPCAPS), 1, 0, 0, 0, 0) != 0 {
            throw SkiffError(.system, LinuxError("prctl PR_SET_KEEPCAPS", errno: currentErrno()))
        }
    }

    /// Step 2, after the uid switch: permitted, effective and inheritable in one capset, then
    /// the ambient set raised (it needs the other two in place).
    static func apply(_ sets: CapabilitySets) throws(SkiffError) {
        if cap_prctlw(Int(PR_SET_KEEPCAPS), 0, 0, 0, 0, 0) != 0 {
            throw SkiffError(.system, LinuxError("prctl PR_SET_KEEPCAPS", errno: currentErrno()))
        }
        guard let caps = cap_init() else {
            throw SkiffError(.system, LinuxError("cap_init", errno: currentErrno()))
        }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        for (flag, values) in [(CAP_PERMITTED, sets.permitted), (CAP_EFFECTIVE, sets.effective),
                               (CAP_INHERITABLE, sets.inheritable)] where !values.isEmpty {
            let list = values.sorted()
            if cap_set_flag(caps, flag, Int32(list.count), list, CAP_SET) != 0 {
                throw SkiffError(.system, LinuxError("cap_set_flag", errno: currentErrno()))
            }
        }
        if cap_set_proc(caps) != 0 {
            throw SkiffError(.system, LinuxError("capset", errno: currentErrno()))
        }
        // Clear first: exec must not carry ambient capabilities the config did not ask for.
        if cap_reset_ambient() != 0, currentErrno() != EINVAL {
            throw SkiffError(.system, LinuxError("prctl PR_CAP_AMBIENT_CLEAR_ALL", errno: currentErrno()))
        }
        for cap in sets.raisableAmbient.sorted() where cap_set_ambient(cap, CAP_SET) != 0 {
            throw SkiffError(.system, LinuxError("raise ambient \(CapabilitySets.name(of: cap))", errno: currentErrno()))
        }
    }
}
