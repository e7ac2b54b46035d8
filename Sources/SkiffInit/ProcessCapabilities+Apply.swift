#if canImport(Glibc)
import Glibc
#endif
import SkiffInitProtocol
import SkiffLinux

/// Init side: the process's capabilities changed in the two steps the uid switch imposes.
extension ProcessCapabilities {
    /// Step 1, while still privileged (CAP_SETPCAP): drop what is not in `keep` from the
    /// bounding set, and ask the kernel to keep the permitted set across the switch to a
    /// non-zero uid (otherwise setresuid clears it). `present` is the bounding set as read
    /// before (ProcessSecurity's `available`): nothing can have added to it since, so it is
    /// not read again, one prctl per capability.
    static func dropBounding(keep: Set<Int32>, present: Set<Int32>) throws(SkiffError) {
        do {
            for cap in 0..<CapabilitySets.kernelCount where !keep.contains(cap) && present.contains(cap) {
                try Capabilities.dropFromBoundingSet(cap, display: CapabilitySets.name(of: cap))
            }
            try Capabilities.setKeepCapabilities(true)
        } catch {
            throw SkiffError(.system, error)
        }
    }

    /// Step 2, after the uid switch: permitted, effective and inheritable in one capset, then
    /// the ambient set raised (it needs the other two in place).
    static func apply(_ sets: CapabilitySets) throws(SkiffError) {
        do {
            try Capabilities.setKeepCapabilities(false)
            try Capabilities.set(permitted: sets.permitted.sorted(), effective: sets.effective.sorted(),
                                 inheritable: sets.inheritable.sorted())
            // Clear first: exec must not carry ambient capabilities the config did not ask for.
            try Capabilities.clearAmbient()
            for cap in sets.raisableAmbient.sorted() {
                try Capabilities.raiseAmbient(cap, display: CapabilitySets.name(of: cap))
            }
        } catch {
            throw SkiffError(.system, error)
        }
    }
}
